"""The web console's core: sign-in links and sessions (auth.py), what a session may see (scope.py), its reads
(queries.py) and figures (numbers.py). The door that serves it over HTTP is handlers/console/."""
