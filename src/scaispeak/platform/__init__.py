"""The host platform (ScaiGrid stand-in): tenants, users, keys, budgets, drive.

It knows nothing of speech; the ScaiSpeak module reaches it through narrow interfaces.
"""
