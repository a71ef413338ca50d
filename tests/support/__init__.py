"""What the tests share: participants and their drivers, request bodies, JOSE objects,
audit and problem-document checks, databases and processes.

Test modules import from here and from nowhere else in ``tests``; fixtures come from the
``conftest.py`` files by name.
"""
