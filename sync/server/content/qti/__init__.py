"""Importing IMS QTI 2.1, 2.2 and 3.0 content packages into the internal manifest."""
