package org.rawdenoise.core;

import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/** DNG NoiseProfile tags and Camera2 pairs map to the same per-plane (a, b) and level as in Python. */
public class NoiseProfileGoldenTest {

    private final Map<String, Object> golden = Golden.load("noise_profiles.json");

    @Test
    public void dngNoiseProfileTagsMatchPython() {
        int errors = 0;
        for (Map<String, Object> c : Golden.cases(golden, "dng")) {
            double[] values = Golden.doubles(c, "values");
            int[] colors = c.get("plane_colors") == null ? null : Json.asIntArray(c.get("plane_colors"), "plane_colors");
            if (c.containsKey("error")) {
                errors++;
                try {
                    NoiseProfile.fromDngPairs(values, colors);
                    fail("accepted " + c);
                } catch (NoiseProfileException expected) {
                    assertTrue(expected.getMessage(), expected.getMessage().length() > 10);
                }
                continue;
            }
            NoiseProfile p = NoiseProfile.fromDngPairs(values, colors);
            assertArrayEquals("a of " + c, Golden.doubles(c, "a"), p.a(), 0.0);
            assertArrayEquals("b of " + c, Golden.doubles(c, "b"), p.b(), 0.0);
            assertEquals("level of " + c, Golden.number(c, "level"), p.level(), 0.0);
            assertEquals("metadata", p.source());
        }
        assertTrue("the golden file has no rejected tags", errors >= 4);
    }

    @Test
    public void camera2PairsInCfaOrderMapToPlanesLikePython() {
        for (Map<String, Object> c : Golden.cases(golden, "camera2")) {
            BayerPattern pattern = BayerPattern.valueOf(Json.asString(c.get("pattern"), "pattern"));
            NoiseProfile p = NoiseProfile.fromCfaPairs(Golden.doubles(c, "values"), pattern);
            assertArrayEquals("a for " + pattern, Golden.doubles(c, "a"), p.a(), 0.0);
            assertArrayEquals("b for " + pattern, Golden.doubles(c, "b"), p.b(), 0.0);
            assertEquals("level for " + pattern, Golden.number(c, "level"), p.level(), 0.0);
            assertArrayEquals("model vector for " + pattern, Golden.floats(c, "vector"), p.asVector(), 0.0f);
        }
    }

    @Test
    public void camera2GreensGoToTheGreenOnRedsRowAndOnBluesRow() {
        // GRBG: tile row 0 is G R (green on red's row = G1), row 1 is B G (green on blue's row = G2).
        NoiseProfile p = NoiseProfile.fromCfaPairs(new double[] {1, 10, 2, 20, 3, 30, 4, 40}, BayerPattern.GRBG);
        assertArrayEquals(new double[] {2, 1, 4, 3}, p.a(), 0.0);
        assertArrayEquals(new double[] {20, 10, 40, 30}, p.b(), 0.0);
    }

    @Test
    public void rejectsValuesNoSensorProduces() {
        double[][] bad = {{Double.NaN, 1e-6}, {1e-4, Double.POSITIVE_INFINITY}, {-1e-4, 1e-6}, {0, 0}};
        for (double[] v : bad) {
            try {
                NoiseProfile.uniform(v[0], v[1], "user");
                fail("accepted a=" + v[0] + " b=" + v[1]);
            } catch (NoiseProfileException expected) {
                // one-line reason
            }
        }
        try {
            NoiseProfile.fromCfaPairs(new double[6], BayerPattern.RGGB);
            fail("accepted 3 pairs from a 4-channel sensor");
        } catch (NoiseProfileException expected) {
            assertTrue(expected.getMessage().contains("4 (S, O) pairs"));
        }
    }
}
