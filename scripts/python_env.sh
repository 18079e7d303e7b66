# Sourced by the scripts that install: chooses the Python they install into and run, leaving the user's own alone.
#   PYTHON=/path/to/python   that interpreter, as given (the user chose it)
#   an active virtual env    its python ($VIRTUAL_ENV)
#   otherwise                the project's .venv, created on first use with python3 -m venv
# Sets PYTHON and puts its folder first on PATH, so msrun and the tests' subprocesses run the same interpreter.
if [ -n "${PYTHON:-}" ]; then
    :
elif [ -n "${VIRTUAL_ENV:-}" ]; then
    PYTHON="$VIRTUAL_ENV/bin/python"
else
    if [ ! -x .venv/bin/python ]; then
        echo "$(basename "$0"): creating the project's virtual environment .venv (python3 -m venv .venv);" \
             "your own Python is left as it is"
        python3 -m venv .venv
    fi
    PYTHON="$PWD/.venv/bin/python"
fi
PATH="$(dirname "$PYTHON"):$PATH"
export PATH PYTHON
echo "$(basename "$0"): using $PYTHON"
