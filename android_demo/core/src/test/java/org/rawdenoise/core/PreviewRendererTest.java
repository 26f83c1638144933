package org.rawdenoise.core;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

public class PreviewRendererTest {

    private static float[] flatMosaic(BayerPattern p, int h, int w, double r, double g, double b) {
        float[] m = new float[h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int c = p.colorAt(y, x);
                m[y * w + x] = (float) (c == 0 ? r : c == 1 ? g : b);
            }
        }
        return m;
    }

    private static int[] rgb(int argb) {
        return new int[] {(argb >> 16) & 0xFF, (argb >> 8) & 0xFF, argb & 0xFF};
    }

    @Test
    public void theSrgbCurveMatchesItsDefinition() {
        assertEquals(0, PreviewRenderer.encode(-0.5));
        assertEquals(188, PreviewRenderer.encode(0.5));
        assertEquals(255, PreviewRenderer.encode(1.0));
        assertEquals(255, PreviewRenderer.encode(7.0));
        assertEquals(Math.round(12.92 * 0.002 * 255), PreviewRenderer.encode(0.002));
    }

    @Test
    public void theAsShotNeutralRendersGrey() {
        double[] neutral = {0.5, 1.0, 0.8};
        for (BayerPattern p : BayerPattern.values()) {
            float[] m = flatMosaic(p, 8, 12, 0.5 * 0.2, 0.2, 0.8 * 0.2);
            PreviewRenderer.Preview out = new PreviewRenderer(p, neutral, null, 2.5).render(m, 8, 12, 1);
            assertEquals(6, out.width);
            assertEquals(4, out.height);
            for (int px : out.argb) {
                assertArrayEquals(p.name(), new int[] {188, 188, 188}, rgb(px));
            }
        }
    }

    @Test
    public void aColourMatrixKeepsWhiteWhiteAndTheRedChannelRed() {
        double[] matrix = {0.6722, -0.0635, -0.0963, -0.4287, 1.2460, 0.2028, -0.0908, 0.2162, 0.5668};
        PreviewRenderer r = new PreviewRenderer(BayerPattern.GBRG, null, matrix, 1.0);
        int[] white = rgb(r.render(flatMosaic(BayerPattern.GBRG, 4, 4, 1, 1, 1), 4, 4, 1).argb[0]);
        assertArrayEquals(new int[] {255, 255, 255}, white);
        int[] red = rgb(r.render(flatMosaic(BayerPattern.GBRG, 4, 4, 0.5, 0.02, 0.02), 4, 4, 1).argb[0]);
        assertTrue(java.util.Arrays.toString(red), red[0] > 200 && red[1] < 60 && red[2] < 60);
    }

    @Test
    public void exposureGainPutsTheBrightPartNearWhiteAndBinningShrinks() {
        float[] m = flatMosaic(BayerPattern.RGGB, 64, 96, 0.05, 0.05, 0.05);
        PreviewRenderer r = PreviewRenderer.forImage(m, 64, 96, BayerPattern.RGGB, null, null);
        assertEquals(0.9 / 0.05, r.gain(), 1e-4);
        PreviewRenderer.Preview out = r.render(m, 64, 96, 4);
        assertEquals(12, out.width);
        assertEquals(8, out.height);
        assertArrayEquals(new int[] {243, 243, 243}, rgb(out.argb[0]));
        assertEquals(3, PreviewRenderer.stepFor(3000, 4000, 800));
    }
}
