#!/usr/bin/env bash
# The carried wheels (beartype, ruff, mypy and their deps) and this checkout, editable and without dependencies,
# into the device machine's python: what every GPU script but the README test's own install needs first.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || echo "editable install failed"
