package org.rawdenoise.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The tile plan and blend weights of {@code denoise/tiling.py}, in the same integer arithmetic so
 * both sides cut and blend identically (see that module's docstring for the full rule).
 *
 * <p>Canvas: planes reflect-padded at the bottom/right to multiples of the model stride. Windows
 * per axis: length {@code t = min(tile, nPad)}, starts {@code 0, step, 2·step, …} while
 * {@code start + t < nPad}, then {@code nPad − t}. Neighbours split their overlap at
 * {@code (s1 + e0) / 2}; a window's weight is 1 on its core and cross-fades linearly over
 * {@code [c − r, c + r)}, {@code r = overlap / 4}, at each inner core boundary {@code c}.
 */
public final class Tiling {

    public static final int DEFAULT_TILE = 256;
    public static final int DEFAULT_OVERLAP = 32;

    private Tiling() {
    }

    /** {@code n} rounded up to a multiple of {@code stride}. */
    public static int paddedSize(int n, int stride) {
        return (n + stride - 1) / stride * stride;
    }

    static void checkParams(int tile, int overlap, int stride) {
        if (stride < 1) {
            throw new TilingException("model stride must be >= 1, got " + stride);
        }
        if (tile < stride || tile % stride != 0) {
            throw new TilingException("tile " + tile + " must be a positive multiple of the model stride " + stride);
        }
        if (overlap < 0 || overlap % stride != 0) {
            throw new TilingException("overlap " + overlap + " must be a non-negative multiple of the model stride " + stride);
        }
        if (overlap >= tile) {
            throw new TilingException("overlap " + overlap + " must be smaller than the tile " + tile);
        }
    }

    /** The windows along one axis of length {@code n}. */
    public static List<Span> planAxis(int n, int tile, int overlap, int stride) {
        checkParams(tile, overlap, stride);
        if (n < 1) {
            throw new TilingException("cannot tile an empty axis (length " + n + ")");
        }
        int nPad = paddedSize(n, stride);
        int t = Math.min(tile, nPad);
        List<Integer> starts = new ArrayList<>();
        for (int s = 0; s + t < nPad; s += tile - overlap) {
            starts.add(s);
        }
        starts.add(nPad - t);
        List<Span> spans = new ArrayList<>(starts.size());
        int coreStart = 0;
        for (int i = 0; i < starts.size(); i++) {
            int s = starts.get(i);
            int coreEnd = i + 1 < starts.size() ? (starts.get(i + 1) + s + t) / 2 : nPad;
            spans.add(new Span(s, s + t, coreStart, coreEnd));
            coreStart = coreEnd;
        }
        return spans;
    }

    /** Windows covering an {@code h × w} image padded to multiples of {@code stride}, row-major. */
    public static List<Tile> planTiles(int h, int w, int tile, int overlap, int stride) {
        List<Span> rows = planAxis(h, tile, overlap, stride);
        List<Span> cols = planAxis(w, tile, overlap, stride);
        List<Tile> tiles = new ArrayList<>(rows.size() * cols.size());
        for (Span r : rows) {
            for (Span c : cols) {
                tiles.add(new Tile(r, c));
            }
        }
        return tiles;
    }

    /** Blend weights of one window along one axis ({@code span.length()} values). */
    public static float[] axisWeights(Span span, int overlap) {
        int r = overlap / 4;
        float[] out = new float[span.length()];
        for (int i = 0; i < out.length; i++) {
            int p = span.start + i;
            double w = 1.0;
            if (span.coreStart > span.start) {
                w = Math.min(w, fadeIn(p, span.coreStart, r));
            }
            if (span.coreEnd < span.end) {
                w = Math.min(w, 1.0 - fadeIn(p, span.coreEnd, r));
            }
            out[i] = (float) w;
        }
        return out;
    }

    private static double fadeIn(int p, int c, int r) {
        if (r == 0) {
            return p >= c ? 1.0 : 0.0;
        }
        int num = Math.max(0, Math.min(4 * r, 2 * (p - c + r) + 1));
        return (double) num / (4 * r);
    }

    /** Row-major {@code rows × cols} blend window of a tile: outer product of its axis weights, in float. */
    public static float[] blendWeights(Tile tile, int overlap) {
        float[] wy = axisWeights(tile.rows, overlap);
        float[] wx = axisWeights(tile.cols, overlap);
        float[] out = new float[wy.length * wx.length];
        for (int y = 0; y < wy.length; y++) {
            for (int x = 0; x < wx.length; x++) {
                out[y * wx.length + x] = wy[y] * wx[x];
            }
        }
        return out;
    }
}
