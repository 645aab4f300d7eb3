"""Widget panels (chat, compare, costs, memory, runs); ipywidgets is imported only when a panel opens."""
