package org.rawdenoise.core;

import java.util.List;
import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

/** Tile plans and blend weights agree with {@code denoise/tiling.py} for several image sizes. */
public class TilingGoldenTest {

    private final Map<String, Object> golden = Golden.load("tiling.json");

    @Test
    public void plansMatchPythonTileForTile() {
        for (Map<String, Object> c : Golden.cases(golden, "cases")) {
            List<Tile> tiles = plan(c);
            List<Object> expected = Json.asArray(c.get("tiles"), "tiles");
            assertEquals(label(c) + " tile count", expected.size(), tiles.size());
            for (int i = 0; i < tiles.size(); i++) {
                int[] e = Json.asIntArray(expected.get(i), "tile");
                Tile t = tiles.get(i);
                int[] actual = {t.rows.start, t.rows.end, t.rows.coreStart, t.rows.coreEnd,
                                t.cols.start, t.cols.end, t.cols.coreStart, t.cols.coreEnd};
                assertArrayEquals(label(c) + " tile " + i, e, actual);
            }
        }
    }

    @Test
    public void axisWeightsMatchPython() {
        for (Map<String, Object> c : Golden.cases(golden, "cases")) {
            int overlap = Golden.integer(c, "overlap");
            checkAxis(label(c) + " rows", Tiling.planAxis(Golden.integer(c, "h"), Golden.integer(c, "tile"), overlap,
                    Golden.integer(c, "stride")), Json.asArray(c.get("row_weights"), "row_weights"), overlap);
            checkAxis(label(c) + " cols", Tiling.planAxis(Golden.integer(c, "w"), Golden.integer(c, "tile"), overlap,
                    Golden.integer(c, "stride")), Json.asArray(c.get("col_weights"), "col_weights"), overlap);
        }
    }

    @Test
    public void blendWindowsMatchPython() {
        int windows = 0;
        for (Map<String, Object> c : Golden.cases(golden, "cases")) {
            List<Tile> tiles = plan(c);
            int overlap = Golden.integer(c, "overlap");
            double[] sums = Golden.doubles(c, "blend_weight_sums");
            List<Object> full = c.containsKey("blend_weights") ? Json.asArray(c.get("blend_weights"), "blend_weights") : null;
            for (int i = 0; i < tiles.size(); i++) {
                float[] wgt = Tiling.blendWeights(tiles.get(i), overlap);
                double sum = 0;
                for (float v : wgt) {
                    sum += v;
                }
                assertEquals(label(c) + " weight sum of tile " + i, sums[i], sum, 1e-6 * Math.max(1, sums[i]));
                if (full != null) {
                    double[] e = Json.asDoubleArray(full.get(i), "blend_weights");
                    float[] ef = new float[e.length];
                    for (int k = 0; k < e.length; k++) {
                        ef[k] = (float) e[k];
                    }
                    assertArrayEquals(label(c) + " window " + i, ef, wgt, 0.0f);
                    windows++;
                }
            }
        }
        assertEquals("golden whole windows compared", true, windows > 0);
    }

    @Test
    public void weightsOfOverlappingWindowsSumToOneOnTheCanvas() {
        int h = 300;
        int w = 200;
        int overlap = 16;
        List<Tile> tiles = Tiling.planTiles(h, w, 128, overlap, 8);
        int hp = Tiling.paddedSize(h, 8);
        int wp = Tiling.paddedSize(w, 8);
        double[] sum = new double[hp * wp];
        for (Tile t : tiles) {
            float[] wgt = Tiling.blendWeights(t, overlap);
            for (int y = 0; y < t.rows.length(); y++) {
                for (int x = 0; x < t.cols.length(); x++) {
                    sum[(t.rows.start + y) * wp + t.cols.start + x] += wgt[y * t.cols.length() + x];
                }
            }
        }
        for (int i = 0; i < sum.length; i++) {
            assertEquals("weight sum at " + i, 1.0, sum[i], 1e-6);
        }
    }

    @Test
    public void rejectsTheParametersPythonRejects() {
        for (Map<String, Object> c : Golden.cases(golden, "invalid")) {
            try {
                Tiling.planTiles(10, 10, Golden.integer(c, "tile"), Golden.integer(c, "overlap"), Golden.integer(c, "stride"));
                fail("accepted " + c);
            } catch (TilingException expected) {
                // same rule as TilingError in Python
            }
        }
    }

    private static void checkAxis(String what, List<Span> spans, List<Object> expected, int overlap) {
        assertEquals(what + " span count", expected.size(), spans.size());
        for (int i = 0; i < spans.size(); i++) {
            double[] e = Json.asDoubleArray(expected.get(i), "weights");
            float[] ef = new float[e.length];
            for (int k = 0; k < e.length; k++) {
                ef[k] = (float) e[k];
            }
            assertArrayEquals(what + " span " + i, ef, Tiling.axisWeights(spans.get(i), overlap), 0.0f);
        }
    }

    private static List<Tile> plan(Map<String, Object> c) {
        return Tiling.planTiles(Golden.integer(c, "h"), Golden.integer(c, "w"), Golden.integer(c, "tile"),
                Golden.integer(c, "overlap"), Golden.integer(c, "stride"));
    }

    private static String label(Map<String, Object> c) {
        return c.get("h") + "x" + c.get("w") + " tile " + c.get("tile") + " overlap " + c.get("overlap")
                + " stride " + c.get("stride");
    }
}
