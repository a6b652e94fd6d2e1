"""The demo story's defaults, in one light module: the CLI reads them for its options and help without importing
the twin (pandas, scikit-learn), and the story's settings (demo_result.DemoSettings, traffic.DriftStory) use them."""

DRIFT_SHARE = 0.4  # income x (1 + share)
BALANCE_INCREASE = 1000.0  # every served balance this much higher, at unchanged risk (the shift CBPE sees)
STUDENT_BALANCE_SHIFT = 1400.0  # students default at balances this much lower (the concept drift)
LABEL_DELAY = 2  # a loan's outcome is known two drift-check periods after the application
