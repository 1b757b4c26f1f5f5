"""Validate many cloud-init files in one process (importing cloud-init takes ~1 s).

Usage: python3 validate_cloud_init.py TYPE:PATH...   TYPE is cloud-config or network-config.
Prints one JSON object per file: {"path", "type", "ok", "error"}.
"""
import json
import sys

from cloudinit.config.schema import (
    SchemaType,
    SchemaValidationError,
    get_schema,
    validate_cloudconfig_file,
)

TYPES = {"cloud-config": SchemaType.CLOUD_CONFIG, "network-config": SchemaType.NETWORK_CONFIG}

for arg in sys.argv[1:]:
    kind, path = arg.split(":", 1)
    schema_type = TYPES[kind]
    try:
        ok = validate_cloudconfig_file(path, get_schema(schema_type), schema_type)
        print(json.dumps({"path": path, "type": kind, "ok": bool(ok), "error": None if ok else "not validated"}))
    except SchemaValidationError as e:
        print(json.dumps({"path": path, "type": kind, "ok": False, "error": str(e)}))
