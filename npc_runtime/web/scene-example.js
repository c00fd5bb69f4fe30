// A small scene (SceneSnapshot in proto3 JSON) to try perception and actions without
// a game: the character behind a counter, the player on a stool, a bowl and a cup.

export function exampleScene(characterId, characterName) {
  const npc = characterId;
  return {
    worldId: `web-demo-${characterId}`,
    nodes: [
      { id: "stall", kind: "NODE_KIND_PLACE", name: "the stall", description: "a tiny counter under neon signs" },
      { id: "street", kind: "NODE_KIND_PLACE", name: "the street" },
      { id: npc, kind: "NODE_KIND_NPC", name: characterName || characterId },
      { id: "player", kind: "NODE_KIND_PLAYER", name: "the visitor" },
      { id: "counter", kind: "NODE_KIND_OBJECT", name: "the counter", type: "counter", container: true },
      { id: "stool", kind: "NODE_KIND_OBJECT", name: "a stool", type: "stool" },
      { id: "bowl", kind: "NODE_KIND_OBJECT", name: "an empty bowl", type: "bowl", portable: true },
      { id: "cup", kind: "NODE_KIND_OBJECT", name: "a cup of tea", type: "cup", portable: true },
    ],
    relations: [
      { subjectId: npc, kind: "RELATION_KIND_IN", objectId: "stall" },
      { subjectId: "player", kind: "RELATION_KIND_IN", objectId: "stall" },
      { subjectId: "counter", kind: "RELATION_KIND_IN", objectId: "stall" },
      { subjectId: "stool", kind: "RELATION_KIND_IN", objectId: "stall" },
      { subjectId: "bowl", kind: "RELATION_KIND_ON", objectId: "counter" },
      { subjectId: "cup", kind: "RELATION_KIND_ON", objectId: "counter" },
      { subjectId: "stall", kind: "RELATION_KIND_CONNECTED", objectId: "street", distance: 3 },
    ],
  };
}
