"""Code the tests share (fake clock, waiting, live server, builders); conftest.py files hold only the fixtures."""
