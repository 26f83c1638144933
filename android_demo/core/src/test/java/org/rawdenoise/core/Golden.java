package org.rawdenoise.core;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;

/** Loads the golden vectors written by {@code export/golden.py} (test resources, {@code /golden/}). */
final class Golden {

    /** Tolerance for floats that are not required to be bit-identical. */
    static final double TOL = 1e-6;

    private Golden() {
    }

    static byte[] bytes(String name) {
        try (InputStream in = Golden.class.getResourceAsStream("/golden/" + name)) {
            assertNotNull("golden file " + name + " is missing from the test resources", in);
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, Object> load(String name) {
        return Json.asObject(Json.parse(new String(bytes(name), StandardCharsets.UTF_8), name), name);
    }

    static List<Map<String, Object>> cases(Map<String, Object> file, String key) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object o : Json.asArray(file.get(key), key)) {
            out.add(Json.asObject(o, key));
        }
        assertFalse("golden list " + key + " is empty", out.isEmpty());
        return out;
    }

    static double[] doubles(Map<String, Object> c, String key) {
        return Json.asDoubleArray(c.get(key), key);
    }

    static float[] floats(Map<String, Object> c, String key) {
        double[] d = doubles(c, key);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    static int integer(Map<String, Object> c, String key) {
        return Json.asInt(c.get(key), key);
    }

    static double number(Map<String, Object> c, String key) {
        return Json.asDouble(c.get(key), key);
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(what + ": length", expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(what + "[" + i + "]", expected[i], actual[i], TOL);
        }
    }

    static void assertClose(String what, double[] expected, double[] actual) {
        assertEquals(what + ": length", expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(what + "[" + i + "]", expected[i], actual[i], TOL * Math.max(1.0, Math.abs(expected[i])));
        }
    }
}
