package org.rawdenoise.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

/** Whole tiled runs (pad, cut, batch, blend, crop) give Python's {@code denoise_planes} output. */
public class TiledDenoiserGoldenTest {

    /** The golden stand-in model: each plane of a window plus that plane's top-left value. */
    static final class AddTopLeft implements TileModel {
        final int stride;
        final List<Integer> batchSizes = new ArrayList<>();

        AddTopLeft(int stride) {
            this.stride = stride;
        }

        @Override
        public int stride() {
            return stride;
        }

        @Override
        public float[] run(float[] planes, float[] noise, int n, int h, int w) {
            batchSizes.add(n);
            float[] out = new float[planes.length];
            for (int p = 0; p < 4 * n; p++) {
                float topLeft = planes[p * h * w];
                for (int i = 0; i < h * w; i++) {
                    out[p * h * w + i] = planes[p * h * w + i] + topLeft;
                }
            }
            return out;
        }
    }

    @Test
    public void tiledRunsMatchPython() throws Exception {
        for (Map<String, Object> c : Golden.cases(Golden.load("tiled_denoise.json"), "cases")) {
            assertEquals("add_top_left", c.get("model"));
            int h = Golden.integer(c, "h");
            int w = Golden.integer(c, "w");
            AddTopLeft model = new AddTopLeft(Golden.integer(c, "stride"));
            List<int[]> progress = new ArrayList<>();
            float[] out = TiledDenoiser.denoisePlanes(model, Golden.floats(c, "planes"), h, w, Golden.floats(c, "noise"),
                    Golden.integer(c, "tile"), Golden.integer(c, "overlap"), Golden.integer(c, "batch"),
                    (done, total) -> progress.add(new int[] {done, total}));
            Golden.assertClose(h + "x" + w, Golden.floats(c, "output"), out);
            int[] last = progress.get(progress.size() - 1);
            assertEquals("progress ends at the tile total", last[1], last[0]);
            for (int n : model.batchSizes) {
                assertEquals(true, n >= 1 && n <= Golden.integer(c, "batch"));
            }
        }
    }

    @Test
    public void anIdentityModelReturnsItsInputThroughAnyPlan() throws Exception {
        int h = 45;
        int w = 38;
        float[] planes = new float[4 * h * w];
        java.util.Random rng = new java.util.Random(3);
        for (int i = 0; i < planes.length; i++) {
            planes[i] = (float) rng.nextGaussian();
        }
        TileModel identity = new TileModel() {
            @Override
            public int stride() {
                return 4;
            }

            @Override
            public float[] run(float[] p, float[] noise, int n, int th, int tw) {
                return p.clone();
            }
        };
        float[] out = TiledDenoiser.denoisePlanes(identity, planes, h, w, new float[8], 16, 8, 5, null);
        assertArrayEquals(planes, out, 1e-6f);
    }

    @Test
    public void aModelReturningTheWrongShapeIsReported() throws Exception {
        TileModel broken = new TileModel() {
            @Override
            public int stride() {
                return 1;
            }

            @Override
            public float[] run(float[] p, float[] noise, int n, int th, int tw) {
                return new float[p.length / 4];
            }
        };
        try {
            TiledDenoiser.denoisePlanes(broken, new float[4 * 8 * 8], 8, 8, new float[8], 8, 0, 1, null);
            fail("accepted a model output of the wrong size");
        } catch (TilingException expected) {
            assertEquals(true, expected.getMessage().contains("must return planes of its input's shape"));
        }
    }
}
