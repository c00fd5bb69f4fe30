using NpcRuntime.Protocol;
using NpcRuntime.Scene;

namespace NpcRuntime.ConsoleTests
{
    /// <summary>Shared sample data.</summary>
    internal static class Samples
    {
        public static SceneSnapshot Scene()
        {
            return new SceneBuilder("neon-city")
                .Place("stall", "Jin's ramen stall", "A counter with six stools under a neon sign.")
                .Place("alley", "Back alley")
                .Object("ladle", "ladle", "ladle", portable: true, position: new Vec3(1.5f, 0.9f, -2f))
                .Object("pot", "stock pot", "pot", container: true, position: new Vec3(1f, 0.9f, -2f))
                .Character("jin", "Jin", false, new Vec3(0f, 0f, -1.5f))
                .Character("player", "Player", true, new Vec3(0f, 0f, 1f))
                .State("pot", "lid", "open")
                .Relate("ladle", RelationKind.In, "pot")
                .Relate("pot", RelationKind.In, "stall")
                .Relate("jin", RelationKind.In, "stall")
                .Relate("stall", RelationKind.Connected, "alley", 12.5f)
                .Build();
        }

        /// <summary><see cref="Scene"/> after the player took the ladle and the lid was closed.</summary>
        public static SceneSnapshot MovedScene()
        {
            return Moved(false);
        }

        /// <summary><see cref="MovedScene"/> with the player standing at the stall.</summary>
        public static SceneSnapshot PlayerAtStall()
        {
            return Moved(true);
        }

        private static SceneSnapshot Moved(bool playerAtStall)
        {
            var b = new SceneBuilder("neon-city")
                .Place("stall", "Jin's ramen stall", "A counter with six stools under a neon sign.")
                .Place("alley", "Back alley")
                .Object("ladle", "ladle", "ladle", portable: true, position: new Vec3(0.1f, 1.2f, 1f))
                .Object("pot", "stock pot", "pot", container: true, position: new Vec3(1f, 0.9f, -2f))
                .Character("jin", "Jin", false, new Vec3(0f, 0f, -1.5f))
                .Character("player", "Player", true, new Vec3(0f, 0f, 1f))
                .State("pot", "lid", "closed")
                .Relate("ladle", RelationKind.HeldBy, "player")
                .Relate("pot", RelationKind.In, "stall")
                .Relate("jin", RelationKind.In, "stall")
                .Relate("stall", RelationKind.Connected, "alley", 12.5f);
            if (playerAtStall) b.Relate("player", RelationKind.In, "stall");
            return b.Build();
        }
    }
}
