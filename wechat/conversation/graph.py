"""Each flow as a Mermaid diagram, generated from its definition so the picture never drifts."""

from __future__ import annotations

from wechat.conversation.flow import Flow


def mermaid(flow: Flow) -> str:
    lines = ["flowchart TD", f'    start(["{flow.title}"])']
    previous = "start"
    for step in flow.steps:
        node = step.name
        shape = f'{node}["{step.label}{"（可跳过）" if step.optional else ""}"]'
        lines.append(f"    {shape}")
        label = step.when_label or ("条件" if step.when else "")
        if label:
            lines.append(f"    {previous} -.->|{label}| {node}")
        else:
            lines.append(f"    {previous} --> {node}")
        previous = node
    lines += [
        '    summary{"核对信息"}',
        f"    {previous} --> summary",
        '    summary -->|修改 N| edit["修改第 N 项"]',
        "    edit --> summary",
        f'    summary -->|{flow.confirm_word}| done(["保存"])',
        '    summary -.->|取消| cancelled(["已取消，不保存"])',
    ]
    return "\n".join(lines)
