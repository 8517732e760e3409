"""Provenance: watermark what the service speaks, fingerprint it, and recognise it again.

``watermark`` embeds and detects Perth-Net's presence watermark; ``fingerprint`` makes a
compact robust hash of a clip so a detected clip can be traced to its request;
``service`` holds the tenant policy and the provenance records; ``endpoints`` is the
HTTP edge (``POST /detect``, ``/provenance/policy``). docs/provenance.md explains it.
"""
