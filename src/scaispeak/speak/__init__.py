"""The ScaiSpeak module, mounted at /v1/modules/scaispeak."""
