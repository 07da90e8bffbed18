"""What the repository's scripts run, importable so that tests can import it (scripts/ stays thin).

``bench`` (the training-step benchmark harness of scripts/bench/), ``kill_test``, ``bad_input_table`` and
``readme_commands`` (scripts/checks/), ``health_runs`` (scripts/studies/). These modules drive ganlab's
commands; the library never imports them (tests/test_imports.py).
"""
