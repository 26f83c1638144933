package org.rawdenoise.core;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

public class BayerNormalizationTest {

    @Test
    public void subtractsBlackPerTilePositionAndKeepsValuesBelowBlack() {
        BayerNormalization n = new BayerNormalization(new double[] {64, 65, 66, 63}, 1023);
        short[] raw = {64, 65, 1023, 1023, 60, 66 + 957, 0, 63};
        float[] x = n.normalize(raw, 2, 4);
        assertEquals(0f, x[0], 0f);
        assertEquals(0f, x[1], 0f);
        assertEquals(1f, x[2], 1e-7f);
        assertEquals((1023 - 65) / (1023.0 - 65), x[3], 1e-7);
        assertEquals((60 - 66) / (1023.0 - 66), x[4], 1e-7);
        assertEquals(true, x[4] < 0);
        assertEquals(1f, x[5], 1e-7f);
        assertEquals((0 - 66) / (1023.0 - 66), x[6], 1e-7);
    }

    @Test
    public void denormalizeInvertsNormalizeForEveryRawValue() {
        BayerNormalization n = new BayerNormalization(new double[] {512}, 16383);
        short[] raw = new short[16384];
        for (int v = 0; v < raw.length; v++) {
            raw[v] = (short) v;
        }
        short[] back = n.denormalize(n.normalize(raw, 128, 128), 128, 128);
        for (int v = 0; v < raw.length; v++) {
            assertEquals("raw " + v, Math.min(v, 16383), back[v] & 0xFFFF);
        }
    }

    @Test
    public void denormalizeClipsToTheSensorRange() {
        BayerNormalization n = new BayerNormalization(new double[] {100}, 60000);
        short[] out = n.denormalize(new float[] {-1f, 2f, 0.5f, Float.NaN}, 2, 2);
        assertArrayEquals(new short[] {0, (short) 60000, (short) 30050, 0}, out);
    }

    @Test
    public void rejectsInconsistentLevels() {
        for (double[] black : new double[][] {{1024}, {-1}, {1, 2}, {Double.NaN}}) {
            try {
                new BayerNormalization(black, 1023);
                fail("accepted black " + java.util.Arrays.toString(black));
            } catch (IllegalArgumentException expected) {
                // one-line reason
            }
        }
    }
}
