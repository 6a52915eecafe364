#!/usr/bin/env bash
# OTLP exporter end to end, no root: the real exporter (build/tools/otlp_drive) against an independent
# receiver on loopback (tests/integration/otlp_receiver.py). See tests/cli/otlp_export_test.py.
set -u
cd "$(dirname "$0")/../.."
[ -x build/tools/otlp_drive ] || make --no-print-directory build/tools/otlp_drive >/dev/null || {
	echo "0 passed, 1 failed (cannot build build/tools/otlp_drive)"; exit 1; }
exec python3 tests/cli/otlp_export_test.py
