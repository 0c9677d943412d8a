"""Offline stand-in for get-pip.py, as ansible-test calls it.

ansible-test runs ``python get-pip.py [pip options] pip==X --no-setuptools --no-wheel``
inside a virtual environment created without pip. The bundled ``ensurepip``
wheel provides a pip, which then installs the requested version from the
package index like the real script would.
"""

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main():
    pip_arguments = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + pip_arguments)


if __name__ == "__main__":
    main()
