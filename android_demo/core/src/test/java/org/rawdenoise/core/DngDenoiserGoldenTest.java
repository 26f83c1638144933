package org.rawdenoise.core;

import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

/**
 * DNG in, DNG out through the core gives what the Python SDK's {@code denoise_raw} + {@code to_dn}
 * give for the same file and stand-in model; an identity model returns the file's pixels exactly.
 */
public class DngDenoiserGoldenTest {

    private final Map<String, Object> golden = Golden.load("dng.json");

    @Test
    public void theWholePathMatchesPythonOnBothFixtures() throws Exception {
        for (Map<String, Object> c : Golden.cases(golden, "files")) {
            String file = Json.asString(c.get("file"), "file");
            Map<String, Object> pipeline = Json.asObject(c.get("pipeline"), "pipeline");
            assertEquals("add_top_left", pipeline.get("model"));
            DngFile dng = DngFile.parse(Golden.bytes(file), file);
            TiledDenoiserGoldenTest.AddTopLeft model = new TiledDenoiserGoldenTest.AddTopLeft(Golden.integer(pipeline, "stride"));
            DngDenoiser.Result r = DngDenoiser.denoise(dng, dng.noiseProfile(), model, Golden.integer(pipeline, "tile"),
                    Golden.integer(pipeline, "overlap"), Golden.integer(pipeline, "batch"), null);
            Golden.assertClose(file + " denoised", Golden.floats(pipeline, "denoised"), r.denoised);
            int[] expected = Json.asIntArray(pipeline.get("denoised_dn"), "denoised_dn");
            for (int i = 0; i < expected.length; i++) {
                assertEquals(file + " DN " + i, expected[i], r.denoisedRaw[i] & 0xFFFF);
            }
            DngFile written = DngFile.parse(r.dng, file);
            assertArrayEquals(file + " written pixels", r.denoisedRaw, written.mosaic());
            assertNull(file + " stale NoiseProfile dropped", written.noiseProfileValues);
            assertTrue(file + " tiles", r.tiles > 1);
        }
    }

    @Test
    public void anIdentityModelGivesBackTheSamePixels() throws Exception {
        TileModel identity = new TileModel() {
            @Override
            public int stride() {
                return 4;
            }

            @Override
            public float[] run(float[] planes, float[] noise, int n, int h, int w) {
                return planes.clone();
            }
        };
        for (String file : new String[] {"grbg_strips_le.dng", "bggr_tiles_be.dng"}) {
            DngFile dng = DngFile.parse(Golden.bytes(file), file);
            DngDenoiser.Result r = DngDenoiser.denoise(dng, dng.noiseProfile(), identity, 8, 4, 3, null);
            assertArrayEquals(file, dng.mosaic(), r.denoisedRaw);
            assertArrayEquals(file, r.noisy, r.denoised, 1e-6f);
        }
    }
}
