"""The `mlops demo` story on the twin: the driver, the traffic it sends, its result and the HTML report."""
