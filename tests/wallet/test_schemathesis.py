"""Property-based API testing over the served OpenAPI document: generated valid and invalid requests
for every operation must never produce a server error, and every answer must match the document
(status codes, content types, response bodies). Bounded: a few examples per operation and mode."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance

from tests.wallet.conftest import api_for

EXAMPLES = 12


def test_api_against_its_openapi_document(app_factory, any_db_url):
    app = app_factory(any_db_url)
    api = api_for(app)
    api.wallet()
    api.card()
    auth = {"Authorization": f"Bearer {api.token}"}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def run(case):
                case.call_and_validate(headers=auth, excluded_checks=[positive_data_acceptance])

            try:
                run()
            except Unsatisfiable:  # nothing of this operation can be made invalid (e.g. no parameters)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
