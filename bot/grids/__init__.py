"""Grids (网格): street 街道 → community 社区 → grid 网格 polygons, and routing a point to the grid that owns it.

"One grid, one worker" (一格一员): a report made at a point belongs to the grid worker whose polygon holds it, so
the polygons, their hierarchy and the point-to-grid rule live here, free of any chat library or database.
"""
