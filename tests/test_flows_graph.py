from flask.testing import FlaskCliRunner


def test_flows_graph_prints_mermaid_from_the_definitions(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["flows", "graph", "volunteer_register"])
    assert result.exit_code == 0, result.output
    assert result.output.count("flowchart TD") == 1
    for label in (
        "同意个人信息处理",
        "姓名",
        "身份证号",
        "所在县区",
        "工作单位（可跳过）",
        "核对信息",
    ):
        assert label in result.output
    assert "-.->|市州有下辖县区| county_code" in result.output


def test_flows_graph_lists_every_flow(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["flows", "graph"])
    assert "volunteer_register" in result.output and "volunteer_edit" in result.output
