"""Every action of a scenario, the nested ones of `choose`, `if` and `repeat` too, and the
expressions they test: for the parts that look through a scenario from outside (the
keys it reads, the scenarios it names)."""

from __future__ import annotations

from collections.abc import Iterator

from raspy.rules import model


def every_action(actions: tuple[model.Action, ...]) -> Iterator[model.Action]:
    """Depth first, in document order."""
    for action, _ in every_placed_action(actions):
        yield action


def every_placed_action(
    actions: tuple[model.Action, ...], in_repeat: bool = False
) -> Iterator[tuple[model.Action, bool]]:
    """every_action, each with whether it is inside a `repeat` (where a template
    knows `repeat.index`)."""
    for action in actions:
        yield action, in_repeat
        match action:
            case model.RepeatAction(actions=inner):
                yield from every_placed_action(inner, True)
            case model.ChooseAction(branches=branches, otherwise=otherwise):
                for branch in branches:
                    yield from every_placed_action(branch.actions, in_repeat)
                yield from every_placed_action(otherwise, in_repeat)
            case model.IfAction(then=then, otherwise=otherwise):
                yield from every_placed_action(then, in_repeat)
                yield from every_placed_action(otherwise, in_repeat)


def expressions(scenario: model.Scenario) -> list[model.Expression]:
    """The `when:` triggers' expressions, the conditions, every expression an
    action tests, and every `expr:` that computes an action's value."""
    found = [
        t.expression for t in scenario.triggers if isinstance(t, model.WhenTrigger)
    ]
    found.extend(scenario.conditions)
    for action in every_action(scenario.actions):
        match action:
            case (
                model.SetAction(expr=expr)
                | model.DeviceAction(expr=expr)
                | model.EventAction(expr=expr)
                | model.HttpAction(expr=expr)
            ) if expr is not None:
                found.append(expr)
            case (
                model.WaitUntilAction(condition=condition)
                | model.ConditionAction(condition=condition)
            ):
                found.append(condition)
            case model.RepeatAction(while_=while_, until=until):
                found.extend(e for e in (while_, until) if e is not None)
            case model.ChooseAction(branches=branches):
                found.extend(branch.condition for branch in branches)
            case model.IfAction(condition=condition):
                found.append(condition)
    return found


def scenarios_named(scenario: model.Scenario) -> list[tuple[str, str]]:
    """(`run` or `stop`, name) of every action naming another scenario by a literal
    name (one with a template is known only when it runs)."""
    named: list[tuple[str, str]] = []
    for action in every_action(scenario.actions):
        match action:
            case model.RunAction(scenario=name) if "{" not in name:
                named.append(("run", name))
            case model.StopAction(scenario=name) if "{" not in name:
                named.append(("stop", name))
    return named
