package org.rawdenoise.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * The blind estimator gives Python's answers on the golden mosaics: (a, b) per plane within 1e-9
 * relative (1e-5 where b follows the DND line, as both sides minimize over log a only to a
 * tolerance; measured 1e-13 and 3.5e-7), the same detail text (block counts, planes on the prior,
 * confidence), and the same refusals.
 */
public class NoiseEstimatorGoldenTest {

    private static final double FIT_TOL = 1e-9;
    private static final double PRIOR_TOL = 1e-5;

    private final Map<String, Object> golden = Golden.load("noise_estimate.json");

    @Test
    public void constantsMatchPython() {
        Map<String, Object> c = Json.asObject(golden.get("constants"), "constants");
        assertEquals(Golden.number(c, "f_coarse"), NoiseEstimator.F_COARSE, 0.0);
        assertEquals(Golden.number(c, "f_detail"), NoiseEstimator.F_DETAIL, 0.0);
        assertEquals(Golden.number(c, "corr_limit"), NoiseEstimator.CORR_LIMIT, 0.0);
        assertEquals(Golden.number(c, "log_b_slope"), NoiseEstimator.LOG_B_SLOPE, 0.0);
        assertEquals(Golden.number(c, "log_b_intercept"), NoiseEstimator.LOG_B_INTERCEPT, 0.0);
        assertEquals(Golden.number(c, "quantile_rel_std_1"), NoiseEstimator.QUANTILE_REL_STD_1, 1e-7);
        Map<String, Object> expected = Json.asObject(c.get("expected_quantile"), "expected_quantile");
        assertFalse(expected.isEmpty());
        for (Map.Entry<String, Object> e : expected.entrySet()) {
            int count = Integer.parseInt(e.getKey());
            assertEquals("expected quantile of " + count, Json.asDouble(e.getValue(), e.getKey()),
                    NoiseEstimator.expectedQuantile(count), 1e-8);
        }
    }

    @Test
    public void estimatesMatchPython() {
        int refused = 0;
        int estimated = 0;
        for (Map<String, Object> c : Golden.cases(golden, "cases")) {
            String name = Json.asString(c.get("name"), "name");
            int height = Golden.integer(c, "height");
            int width = Golden.integer(c, "width");
            BayerPattern pattern = BayerPattern.valueOf(Json.asString(c.get("pattern"), "pattern"));
            float[] mosaic = decode(Json.asString(c.get("mosaic_f32le"), "mosaic_f32le"), height * width);
            if (c.containsKey("error")) {
                refused++;
                String expected = Json.asString(c.get("error"), "error");
                try {
                    NoiseEstimator.estimate(mosaic, height, width, pattern);
                    fail(name + ": accepted, Python refused with " + expected);
                } catch (NoiseEstimateException e) {
                    assertTrue(name + ": " + e.getMessage(), e.getMessage().startsWith(expected));
                    assertFalse(e.getMessage().contains("\n"));
                }
                continue;
            }
            estimated++;
            NoiseEstimator.Result r = NoiseEstimator.estimate(mosaic, height, width, pattern);
            String detail = Json.asString(c.get("detail"), "detail");
            assertEquals(name, detail, r.detail());
            assertEquals(name, detail.endsWith("confidence high"), r.highConfidence());
            assertEquals("estimate", r.profile().source());
            double tol = detail.contains("DND") ? PRIOR_TOL : FIT_TOL;
            assertClose(name + " a", Golden.doubles(c, "a"), r.profile().a(), tol);
            assertClose(name + " b", Golden.doubles(c, "b"), r.profile().b(), tol);
        }
        assertTrue("golden file needs refusals and estimates", refused >= 3 && estimated >= 3);
    }

    @Test
    public void rejectsAMosaicOfTheWrongLength() {
        try {
            NoiseEstimator.estimate(new float[10], 4, 4, BayerPattern.RGGB);
            fail("accepted 10 values as 4x4");
        } catch (NoiseEstimateException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("4x4"));
        }
    }

    private static void assertClose(String what, double[] expected, double[] actual, double tol) {
        assertEquals(what + ": length", expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(what + "[" + i + "]", expected[i], actual[i], tol * Math.abs(expected[i]) + 1e-300);
        }
    }

    private static float[] decode(String base64, int count) {
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(base64)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[count];
        bytes.asFloatBuffer().get(out);
        return out;
    }
}
