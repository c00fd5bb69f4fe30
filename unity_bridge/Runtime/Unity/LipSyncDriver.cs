using System;
using NpcRuntime.LipSync;
using NpcRuntime.Protocol;
using UnityEngine;

namespace NpcRuntime.Unity
{
    /// <summary>
    /// Moves a face's blendshapes with the NPC's voice: each frame it asks the conversation
    /// for the viseme at the played position and sets the mapped blendshape weights. The map
    /// (one blendshape index per OVR viseme, -1 = none) is edited in the inspector or filled
    /// from blendshape names with "Auto-map".
    /// </summary>
    [AddComponentMenu("NPC Runtime/Lip Sync Driver")]
    public sealed class LipSyncDriver : MonoBehaviour
    {
        public NpcAgent agent;
        public SkinnedMeshRenderer face;

        [Tooltip("Blendshape index for each OVR viseme, in order: sil PP FF TH DD kk CH SS nn RR aa E ih oh ou. -1 = none.")]
        public int[] blendShapeForViseme = Defaults();

        [Tooltip("Blendshape weight at full strength (100 for most rigs).")]
        public float maxWeight = 100f;

        [Tooltip("Per-second smoothing towards the target weights; 0 = none.")]
        public float smoothing = 25f;

        [Tooltip("Delay the mouth by this many ms to match audio output latency.")]
        public float latencyMs = 0f;

        private readonly float[] _target = new float[VisemeScheduler.VisemeCount];
        private readonly float[] _current = new float[VisemeScheduler.VisemeCount];

        private void Reset()
        {
            agent = GetComponentInParent<NpcAgent>();
            face = GetComponentInChildren<SkinnedMeshRenderer>();
            AutoMap();
        }

        /// <summary>Fills the map from blendshape names such as <c>viseme_aa</c>.</summary>
        [ContextMenu("Auto-map OVR viseme blendshapes")]
        public void AutoMap()
        {
            blendShapeForViseme = Defaults();
            if (face == null || face.sharedMesh == null) return;
            var mesh = face.sharedMesh;
            for (int i = 0; i < mesh.blendShapeCount; i++)
            {
                int viseme = OvrVisemes.Match(mesh.GetBlendShapeName(i));
                if (viseme >= 0 && blendShapeForViseme[viseme] < 0) blendShapeForViseme[viseme] = i;
            }
        }

        private void LateUpdate()
        {
            if (agent == null || face == null || agent.Conversation == null) return;
            var conversation = agent.Conversation;
            var position = conversation.Playback.Position;
            double ms = Math.Max(0, position.PlayedMs - latencyMs);
            conversation.Visemes.Evaluate(position.TurnId, ms, _target);
            float k = smoothing <= 0 ? 1f : 1f - Mathf.Exp(-smoothing * Time.deltaTime);
            for (int v = 0; v < _current.Length; v++)
            {
                _current[v] += (_target[v] - _current[v]) * k;
                int index = v < blendShapeForViseme.Length ? blendShapeForViseme[v] : -1;
                if (index >= 0 && v != (int)VisemeId.Sil) face.SetBlendShapeWeight(index, _current[v] * maxWeight);
            }
        }

        private static int[] Defaults()
        {
            var map = new int[VisemeScheduler.VisemeCount];
            for (int i = 0; i < map.Length; i++) map[i] = -1;
            return map;
        }
    }
}
