"""Op tests: tiny Keras models around one TFLite op, bit-exact against TFLM.

The harness (building, converting, caching, checking) is in harness.py; each
test_<family>.py holds that family's cases as data. See harness.py to add one.
"""
