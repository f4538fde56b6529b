"""Every flow by the name its threads carry (`Thread.flow`)."""
from __future__ import annotations

from conversations.flows import acks, comment, exception, files, problem, relay, schedule
from conversations.flows.base import Flow

FLOWS: dict[str, Flow] = {"exception": exception.FLOW, "schedule": schedule.FLOW, "problem": problem.FLOW,
                          "files": files.FLOW, "comment": comment.FLOW, "relay": relay.FLOW,
                          **acks.FLOWS}
