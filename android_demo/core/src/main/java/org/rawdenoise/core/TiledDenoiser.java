package org.rawdenoise.core;

import java.util.List;

/**
 * Tiled inference over packed planes in bounded memory — {@code denoise_planes} of
 * {@code denoise/tiling.py}: reflect-pad to the stride, run the {@link Tiling} plan in batches,
 * blend with the separable weights into float accumulators (tiles in row-major order, like
 * Python, so the sums round identically), divide by the weight sum and crop.
 */
public final class TiledDenoiser {

    /** Called after each batch with the number of tiles done and the total. */
    public interface Progress {
        void update(int done, int total);
    }

    private TiledDenoiser() {
    }

    /**
     * Denoise {@code 4 × h × w} packed planes (channel-major) with {@code noise} (the 8-vector)
     * and return planes of the same shape.
     */
    public static float[] denoisePlanes(TileModel model, float[] planes, int h, int w, float[] noise,
                                        int tile, int overlap, int batch, Progress progress) throws Exception {
        if (h < 1 || w < 1 || planes.length != 4 * h * w) {
            throw new TilingException("expected packed planes of shape (4, " + h + ", " + w + "), got "
                    + planes.length + " values");
        }
        if (noise.length != 8) {
            throw new TilingException("expected an (8,) noise vector [a x4, b x4], got " + noise.length + " values");
        }
        if (batch < 1) {
            throw new TilingException("batch must be >= 1, got " + batch);
        }
        int stride = model.stride();
        List<Tile> tiles = Tiling.planTiles(h, w, tile, overlap, stride);
        int hp = Tiling.paddedSize(h, stride);
        int wp = Tiling.paddedSize(w, stride);
        float[] canvas = reflectPad(planes, h, w, hp, wp);
        float[] acc = new float[4 * hp * wp];
        float[] weightSum = new float[hp * wp];
        int th = tiles.get(0).rows.length();
        int tw = tiles.get(0).cols.length();
        int window = 4 * th * tw;
        for (int first = 0; first < tiles.size(); first += batch) {
            int n = Math.min(batch, tiles.size() - first);
            float[] inputs = new float[n * window];
            float[] noiseBatch = new float[n * 8];
            for (int k = 0; k < n; k++) {
                copyWindow(canvas, hp, wp, tiles.get(first + k), inputs, k * window);
                System.arraycopy(noise, 0, noiseBatch, k * 8, 8);
            }
            float[] outputs = model.run(inputs, noiseBatch, n, th, tw);
            if (outputs == null || outputs.length != inputs.length) {
                throw new TilingException("model returned " + (outputs == null ? "nothing" : outputs.length + " values")
                        + " for input (" + n + ", 4, " + th + ", " + tw + "); a denoiser must return planes of its input's shape");
            }
            for (int k = 0; k < n; k++) {
                Tile t = tiles.get(first + k);
                float[] wgt = Tiling.blendWeights(t, overlap);
                for (int c = 0; c < 4; c++) {
                    for (int y = 0; y < th; y++) {
                        int src = k * window + (c * th + y) * tw;
                        int dst = (c * hp + t.rows.start + y) * wp + t.cols.start;
                        for (int x = 0; x < tw; x++) {
                            acc[dst + x] += outputs[src + x] * wgt[y * tw + x];
                        }
                    }
                }
                for (int y = 0; y < th; y++) {
                    int dst = (t.rows.start + y) * wp + t.cols.start;
                    for (int x = 0; x < tw; x++) {
                        weightSum[dst + x] += wgt[y * tw + x];
                    }
                }
            }
            if (progress != null) {
                progress.update(first + n, tiles.size());
            }
        }
        float[] out = new float[4 * h * w];
        for (int c = 0; c < 4; c++) {
            for (int y = 0; y < h; y++) {
                int src = (c * hp + y) * wp;
                int dst = (c * h + y) * w;
                for (int x = 0; x < w; x++) {
                    out[dst + x] = acc[src + x] / weightSum[y * wp + x];
                }
            }
        }
        return out;
    }

    private static void copyWindow(float[] canvas, int hp, int wp, Tile t, float[] into, int at) {
        int th = t.rows.length();
        int tw = t.cols.length();
        for (int c = 0; c < 4; c++) {
            for (int y = 0; y < th; y++) {
                System.arraycopy(canvas, (c * hp + t.rows.start + y) * wp + t.cols.start,
                        into, at + (c * th + y) * tw, tw);
            }
        }
    }

    /** numpy "reflect" padding at the bottom/right of each plane, any pad length. */
    static float[] reflectPad(float[] planes, int h, int w, int hp, int wp) {
        if (h == hp && w == wp) {
            return planes;
        }
        float[] out = new float[4 * hp * wp];
        for (int c = 0; c < 4; c++) {
            for (int y = 0; y < hp; y++) {
                int src = (c * h + reflect(y, h)) * w;
                int dst = (c * hp + y) * wp;
                for (int x = 0; x < wp; x++) {
                    out[dst + x] = planes[src + reflect(x, w)];
                }
            }
        }
        return out;
    }

    private static int reflect(int i, int n) {
        if (n == 1) {
            return 0;
        }
        int period = 2 * (n - 1);
        int j = i % period;
        return j >= n ? period - j : j;
    }
}
