"""The shape every workload check shares: errors for what could not be read, then one verdict each."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from controls.kubernetes.inventory import KubernetesInventory
from controls.kubernetes.pods import Container, Workload, listing_errors, workloads
from controls.registry import Verdict, errored, failed, passed

WorkloadJudge = Callable[[Workload], list[str]]
ContainerJudge = Callable[[Workload, Container], str | None]


def judge_workloads(inv: KubernetesInventory, problems_of: WorkloadJudge, ok: str) -> Iterator[Verdict]:
    """ERROR for unreadable listings and pod-less workloads; FAIL naming every problem; else PASS."""
    found, failures = workloads(inv)
    yield from listing_errors(failures)
    for workload in found:
        if not workload.spec:
            yield errored(workload.uid, f"{workload.obj.kind} {workload.obj.name} has no pod spec at "
                          f"{workload.path}", workload.record)
            continue
        problems = problems_of(workload)
        if problems:
            yield failed(workload.uid, "; ".join(problems), workload.record)
        else:
            yield passed(workload.uid, ok, workload.record)


def judge_containers(inv: KubernetesInventory, problem_of: ContainerJudge, ok: str,
                     lists: tuple[str, ...] = ("initContainers", "containers", "ephemeralContainers"),
                     ) -> Iterator[Verdict]:
    """As `judge_workloads`, asking about each container (in `lists`) on its own."""

    def problems(workload: Workload) -> list[str]:
        out = []
        for container in workload.containers():
            if container.path.rsplit(".", 1)[-1].split("[", 1)[0] not in lists:
                continue
            problem = problem_of(workload, container)
            if problem:
                out.append(f"container {container.name}: {problem}")
        return out

    yield from judge_workloads(inv, problems, ok)
