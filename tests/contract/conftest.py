def pytest_terminal_summary(terminalreporter):
    """Say how much the API fuzzing ran (tests/contract/test_fuzz.py)."""
    import sys

    fuzz = sys.modules.get("tests.contract.test_fuzz")
    if fuzz is not None and fuzz.RUN:
        terminalreporter.write_line(
            f"schemathesis: {fuzz.RUN['operations']} operations, {fuzz.RUN['cases']} cases "
            f"({fuzz.EXAMPLES} examples per operation and principal)"
        )
