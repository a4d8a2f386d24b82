"""A value PostgreSQL refuses is the client's error, not a database outage."""


def test_a_nul_byte_in_a_filter_is_a_400_not_a_503(operator_api):
    response = operator_api.get("/api/v1/admin/audit", {"action": "halt\x00"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
