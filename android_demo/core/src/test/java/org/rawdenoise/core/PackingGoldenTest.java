package org.rawdenoise.core;

import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

/** Bayer phases and odd sizes pad, pack, unpack and crop back exactly like {@code denoise/cfa.py}. */
public class PackingGoldenTest {

    private final Map<String, Object> golden = Golden.load("packing.json");

    @Test
    public void everyPhaseAndSizePadsAndPacksLikePython() {
        for (Map<String, Object> c : Golden.cases(golden, "cases")) {
            BayerPattern pattern = BayerPattern.valueOf(Json.asString(c.get("pattern"), "pattern"));
            int h = Golden.integer(c, "height");
            int w = Golden.integer(c, "width");
            String what = pattern + " " + h + "x" + w;
            Canonical canon = Canonical.of(pattern, h, w);
            assertEquals(what + " top", Golden.integer(c, "top"), canon.top);
            assertEquals(what + " left", Golden.integer(c, "left"), canon.left);
            assertEquals(what + " bottom", Golden.integer(c, "bottom"), canon.bottom);
            assertEquals(what + " right", Golden.integer(c, "right"), canon.right);
            assertEquals(what + " rggb height", Golden.integer(c, "rggb_height"), canon.rggbHeight());
            assertEquals(what + " rggb width", Golden.integer(c, "rggb_width"), canon.rggbWidth());

            float[] mosaic = Golden.floats(c, "mosaic");
            float[] rggb = canon.toRggb(mosaic);
            assertArrayEquals(what + " rggb", Golden.floats(c, "rggb"), rggb, 0.0f);
            float[] planes = RggbPacking.pack(rggb, canon.rggbHeight(), canon.rggbWidth());
            assertArrayEquals(what + " planes", Golden.floats(c, "planes"), planes, 0.0f);

            float[] restored = canon.toOriginal(
                    RggbPacking.unpack(planes, canon.rggbHeight() / 2, canon.rggbWidth() / 2));
            assertArrayEquals(what + " restored", mosaic, restored, 0.0f);

            int[] planeOfPixel = Json.asIntArray(c.get("plane_of_pixel"), "plane_of_pixel");
            for (int i = 0; i < 4; i++) {
                assertEquals(what + " plane of pixel " + i, planeOfPixel[i], pattern.planeOf(i / 2, i % 2));
            }
        }
    }

    @Test
    public void patternsComeFromCamera2AndDngCodes() {
        assertEquals(BayerPattern.GRBG, BayerPattern.fromCamera2Arrangement(1));
        assertEquals(BayerPattern.BGGR, BayerPattern.fromCamera2Arrangement(3));
        assertEquals(BayerPattern.GBRG, BayerPattern.fromColorCodes(new int[] {1, 2, 0, 1}));
        for (int arrangement : new int[] {4, 5, 6, -1}) {
            try {
                BayerPattern.fromCamera2Arrangement(arrangement);
                fail("accepted colour filter arrangement " + arrangement);
            } catch (CfaException expected) {
                // RGB, mono and NIR sensors have no Bayer mosaic
            }
        }
        try {
            BayerPattern.fromColorCodes(new int[] {0, 1, 1, 0});
            fail("accepted a non-Bayer 2x2 pattern");
        } catch (CfaException expected) {
            // R G / G R is not a Bayer layout
        }
    }

    @Test
    public void rejectsMosaicsThatCannotBePacked() {
        try {
            Canonical.of(BayerPattern.RGGB, 2, 8);
            fail("accepted a 2-row mosaic");
        } catch (CfaException expected) {
            // too small to reflect-pad
        }
        try {
            RggbPacking.pack(new float[15], 3, 5);
            fail("packed an odd-sized mosaic");
        } catch (CfaException expected) {
            // must be canonicalized first
        }
    }
}
