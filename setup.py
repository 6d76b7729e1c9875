"""Only here for cffi: setuptools reads ``cffi_modules`` from setup(), not pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["native/build_ffi.py:ffibuilder"])
