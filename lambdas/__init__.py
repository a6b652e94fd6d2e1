"""Lambda handlers, one folder each; every folder is deployed as its own asset."""
