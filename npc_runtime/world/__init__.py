"""The world: scene graph, perception, triggers, actions catalogue, planner and executor."""
