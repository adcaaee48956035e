"""The run page's task graph: task runs as nodes, their upstream task runs as edges.

The runtime records each task run's upstream task runs (futures and states among its
inputs, and ``wait_for``) in ``status.taskRuns.items[].upstream``; the items are bounded
(``omitted`` says how many are not listed), so the graph is too, and says so. The layout
is grandalf's Sugiyama layering (one per connected part, placed side by side), rendered
server-side as inline SVG: no script draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from baton.resources.flowrun import TaskRuns

NODE_HEIGHT = 28
#: An estimate of a label's width per character (the SVG's 12px sans-serif font).
CHAR_WIDTH = 7
PADDING = 16
GAP = 24
MARGIN = 8
#: Node fill per state name (the state badges' colours).
FILLS = {
    "Completed": "#c9efd4",
    "Cached": "#c9efd4",
    "Running": "#cfe2ff",
    "Retrying": "#cfe2ff",
    "Pending": "#ece7fb",
    "Scheduled": "#ece7fb",
    "AwaitingRetry": "#ece7fb",
    "NotReady": "#ece7fb",
    "Failed": "#fbd3d0",
    "Crashed": "#fbd3d0",
    "TimedOut": "#fbd3d0",
    "Late": "#fde7c2",
    "Cancelled": "#e3e3e3",
    "Cancelling": "#e3e3e3",
}
DEFAULT_FILL = "#e3e3e3"


@dataclass(frozen=True)
class Node:
    """One task run, placed: ``x``/``y`` is its top-left corner."""

    id: str
    name: str
    state: str
    fill: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Line:
    """An edge from the bottom of the upstream node to the top of the downstream one."""

    source: str
    target: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class TaskGraph:
    nodes: list[Node]
    edges: list[Line]
    width: float
    height: float
    #: Task runs the status does not list (so neither does the graph).
    not_shown: int


class _Box:
    """The size grandalf places (``w``, ``h``) and where it put the centre (``xy``)."""

    def __init__(self, width: float) -> None:
        self.w = width
        self.h = float(NODE_HEIGHT)
        self.xy = (0.0, 0.0)


def task_graph(task_runs: TaskRuns | None) -> TaskGraph | None:
    """The laid-out graph of the listed task runs, or None without any."""
    if task_runs is None or not task_runs.items:
        return None
    items = task_runs.items
    vertices: dict[str, Vertex] = {}
    for item in items:
        if item.id not in vertices:
            vertex = Vertex(item.id)
            vertex.view = _Box(PADDING + CHAR_WIDTH * len(item.name))
            vertices[item.id] = vertex
    pairs = [
        (up, item.id) for item in items for up in item.upstream if up in vertices and up != item.id
    ]
    graph = Graph(list(vertices.values()), [Edge(vertices[a], vertices[b]) for a, b in pairs])
    offset = float(MARGIN)
    height = 0.0
    for part in graph.C:
        layout = SugiyamaLayout(part)
        layout.init_all()
        layout.draw()
        boxes = [v.view for v in part.sV]
        left = min(b.xy[0] - b.w / 2 for b in boxes)
        right = max(b.xy[0] + b.w / 2 for b in boxes)
        top = min(b.xy[1] - b.h / 2 for b in boxes)
        for box in boxes:
            box.xy = (box.xy[0] - left + offset, box.xy[1] - top + MARGIN)
            height = max(height, box.xy[1] + box.h / 2)
        offset += right - left + GAP
    nodes: list[Node] = []
    for item in items:
        box = vertices[item.id].view
        if any(n.id == item.id for n in nodes):
            continue  # two runs sharing an 8-character id: one node
        nodes.append(
            Node(
                item.id,
                item.name,
                item.state,
                FILLS.get(item.state, DEFAULT_FILL),
                box.xy[0] - box.w / 2,
                box.xy[1] - box.h / 2,
                box.w,
                box.h,
            )
        )
    placed = {n.id: n for n in nodes}
    edges = [
        Line(
            a,
            b,
            placed[a].x + placed[a].width / 2,
            placed[a].y + placed[a].height,
            placed[b].x + placed[b].width / 2,
            placed[b].y,
        )
        for a, b in dict.fromkeys(pairs)
    ]
    return TaskGraph(nodes, edges, offset - GAP + MARGIN, height + MARGIN, task_runs.omitted)
