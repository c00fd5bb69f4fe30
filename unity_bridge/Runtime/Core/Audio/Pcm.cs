using System;

namespace NpcRuntime.Audio
{
    /// <summary>Conversions between float samples (-1..1) and signed 16-bit little-endian PCM.</summary>
    public static class Pcm
    {
        /// <summary>
        /// Writes <paramref name="count"/> float samples as s16le into <paramref name="dest"/>
        /// at <paramref name="destOffset"/> (2 bytes per sample). Values are clipped to -1..1.
        /// </summary>
        public static void FloatToS16le(float[] src, int srcOffset, int count, byte[] dest, int destOffset)
        {
            for (int i = 0; i < count; i++)
            {
                float f = src[srcOffset + i];
                if (f > 1f) f = 1f;
                else if (f < -1f) f = -1f;
                else if (float.IsNaN(f)) f = 0f;
                int s = (int)Math.Round(f * 32767f);
                dest[destOffset + 2 * i] = (byte)(s & 0xff);
                dest[destOffset + 2 * i + 1] = (byte)((s >> 8) & 0xff);
            }
        }

        /// <summary>The s16le bytes of <paramref name="samples"/>.</summary>
        public static byte[] FloatToS16le(float[] samples)
        {
            var bytes = new byte[samples.Length * 2];
            FloatToS16le(samples, 0, samples.Length, bytes, 0);
            return bytes;
        }

        /// <summary>Float samples (-1..1) of s16le <paramref name="pcm"/>; a trailing odd byte is ignored.</summary>
        public static float[] S16leToFloat(byte[] pcm)
        {
            var samples = new float[pcm.Length / 2];
            for (int i = 0; i < samples.Length; i++)
            {
                short s = (short)(pcm[2 * i] | (pcm[2 * i + 1] << 8));
                samples[i] = s / 32768f;
            }
            return samples;
        }

        /// <summary>Duration of <paramref name="sampleCount"/> samples at <paramref name="sampleRate"/>, in ms.</summary>
        public static double SamplesToMs(long sampleCount, int sampleRate)
        {
            return sampleCount * 1000.0 / sampleRate;
        }

        /// <summary>Samples in <paramref name="ms"/> milliseconds at <paramref name="sampleRate"/> (rounded down).</summary>
        public static int MsToSamples(double ms, int sampleRate)
        {
            return (int)(ms * sampleRate / 1000.0);
        }

        /// <summary>
        /// Linear-interpolation resampling; good enough for speech when the server could not
        /// be asked for the device rate. Returns <paramref name="samples"/> itself when the rates match.
        /// </summary>
        public static float[] Resample(float[] samples, int fromRate, int toRate)
        {
            if (fromRate <= 0 || toRate <= 0) throw new ArgumentOutOfRangeException("fromRate");
            if (fromRate == toRate || samples.Length == 0) return samples;
            int n = (int)((long)samples.Length * toRate / fromRate);
            var result = new float[n];
            double step = (double)fromRate / toRate;
            for (int i = 0; i < n; i++)
            {
                double pos = i * step;
                int j = (int)pos;
                double frac = pos - j;
                float a = samples[j];
                float b = j + 1 < samples.Length ? samples[j + 1] : a;
                result[i] = (float)(a + (b - a) * frac);
            }
            return result;
        }
    }
}
