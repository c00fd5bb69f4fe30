"""NPC-to-NPC scenes: several characters talk, a player may join.

    spec = SceneSpec(cast=("jin", "nova"), premise="...", max_turns=6)
    director = SceneDirector(runtime, spec)          # SceneError for a bad spec
    async for out in director.events():               # SceneOut: speaker + turn event
        ...                                           # the last carries the SceneSummary

floor.py decides who speaks, prompt.py builds each speaker's prompt, registry.py
lets a player's Converse session in the same place speak into a running scene,
scenario.py loads scenarios/*.toml, render.py writes transcripts and WAVs,
report.py grades a training scene, commands.py is `npc-runtime scene`.
"""
