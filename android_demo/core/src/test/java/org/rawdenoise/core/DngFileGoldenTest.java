package org.rawdenoise.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * The DNG reader recovers what {@code export/golden.py} wrote with tifffile (and LibRaw reads
 * back identically, see {@code tests/test_golden_vectors.py}): strips and tiles, both byte orders,
 * an ActiveArea inside the stored image, per-position black levels, NoiseProfile.
 */
public class DngFileGoldenTest {

    private final Map<String, Object> golden = Golden.load("dng.json");

    @Test
    public void fixturesReadLikePythonWroteThem() {
        for (Map<String, Object> c : Golden.cases(golden, "files")) {
            String file = Json.asString(c.get("file"), "file");
            DngFile dng = DngFile.parse(Golden.bytes(file), file);
            assertEquals(file + " height", Golden.integer(c, "height"), dng.height);
            assertEquals(file + " width", Golden.integer(c, "width"), dng.width);
            assertEquals(file + " pattern", c.get("pattern"), dng.pattern.name());
            assertArrayEquals(file + " black", Golden.doubles(c, "black"), dng.levels.black(), 0.0);
            assertEquals(file + " white", Golden.number(c, "white"), dng.levels.white(), 0.0);
            assertArrayEquals(file + " noise tag", Golden.doubles(c, "noise_profile_values"), dng.noiseProfileValues, 0.0);
            NoiseProfile p = dng.noiseProfile();
            assertArrayEquals(file + " a", Golden.doubles(c, "a"), p.a(), 0.0);
            assertArrayEquals(file + " b", Golden.doubles(c, "b"), p.b(), 0.0);
            assertEquals(file + " level", Golden.number(c, "level"), p.level(), 0.0);
            assertEquals(file + " orientation", Golden.integer(c, "orientation"), dng.orientation);
            if (c.get("as_shot_neutral") == null) {
                assertNull(dng.asShotNeutral);
            } else {
                assertArrayEquals(file + " neutral", Golden.doubles(c, "as_shot_neutral"), dng.asShotNeutral, 1e-12);
            }
            assertArrayEquals(file + " colour matrix", Golden.doubles(c, "color_matrix_1"), dng.colorMatrix1, 0.0);
            int[] expected = Json.asIntArray(c.get("mosaic"), "mosaic");
            short[] mosaic = dng.mosaic();
            assertEquals(file + " pixels", expected.length, mosaic.length);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(file + " pixel " + i, expected[i], mosaic[i] & 0xFFFF);
            }
        }
    }

    @Test
    public void normalizationMatchesReadRawBitForBitAndToDnOnTheWayBack() {
        for (Map<String, Object> c : Golden.cases(golden, "files")) {
            String file = Json.asString(c.get("file"), "file");
            DngFile dng = DngFile.parse(Golden.bytes(file), file);
            float[] normalized = dng.levels.normalize(dng.mosaic(), dng.height, dng.width);
            assertArrayEquals(file + " normalized", Golden.floats(c, "normalized"), normalized, 0.0f);
            short[] dn = dng.levels.denormalize(Golden.floats(c, "edited"), dng.height, dng.width);
            int[] expected = Json.asIntArray(c.get("edited_dn"), "edited_dn");
            int clippedHigh = 0;
            int clippedLow = 0;
            for (int i = 0; i < expected.length; i++) {
                assertEquals(file + " DN " + i, expected[i], dn[i] & 0xFFFF);
                clippedHigh += expected[i] == (int) dng.levels.white() ? 1 : 0;
                clippedLow += expected[i] == 0 ? 1 : 0;
            }
            assertTrue(file + " exercises clipping at white and at 0", clippedHigh > 0 && clippedLow > 0);
            short[] roundTrip = dng.levels.denormalize(normalized, dng.height, dng.width);
            assertArrayEquals(file + " unchanged mosaic comes back bit-exact", dng.mosaic(), roundTrip);
        }
    }

    @Test
    public void newPixelsReplaceOnlyTheActiveAreaAndDropTheStaleNoiseProfile() {
        for (Map<String, Object> c : Golden.cases(golden, "files")) {
            String file = Json.asString(c.get("file"), "file");
            byte[] original = Golden.bytes(file);
            DngFile dng = DngFile.parse(original, file);
            short[] mosaic = dng.mosaic();
            short[] changed = new short[mosaic.length];
            for (int i = 0; i < mosaic.length; i++) {
                changed[i] = (short) ((mosaic[i] & 0xFFFF) ^ 0x155);
            }
            byte[] rewritten = dng.withMosaic(changed);
            assertEquals(file + " size", original.length, rewritten.length);
            byte[] before = original.clone();
            DngFile again = DngFile.parse(rewritten, file);
            assertArrayEquals(file + " new pixels", changed, again.mosaic());
            assertArrayEquals(file + " input untouched", before, original);
            assertNull(file + " NoiseProfile removed", again.noiseProfileValues);
            try {
                again.noiseProfile();
                fail(file + ": a noise profile without the tag");
            } catch (DngFormatException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith(file + " has no NoiseProfile tag"));
            }
            assertEquals(file + " pattern kept", dng.pattern, again.pattern);
            assertArrayEquals(file + " levels kept", dng.levels.black(), again.levels.black(), 0.0);
            assertEquals(file + " orientation kept", dng.orientation, again.orientation);
            int differing = 0;
            for (int i = 0; i < original.length; i++) {
                differing += original[i] != rewritten[i] ? 1 : 0;
            }
            // pixel bytes of the active area plus one rewritten IFD tail; nothing else moves
            assertTrue(file + " changed " + differing + " bytes", differing <= 2 * mosaic.length + 12 * 40);
        }
    }

    @Test
    public void theStripFixtureHasMarginsOutsideItsActiveAreaThatStayUntouched() {
        byte[] original = Golden.bytes("grbg_strips_le.dng");
        DngFile dng = DngFile.parse(original, "grbg_strips_le.dng");
        DngFile again = DngFile.parse(dng.withMosaic(new short[dng.height * dng.width]), "x.dng");
        assertTrue(Arrays.equals(new short[dng.height * dng.width], again.mosaic()));
        // The active area is rows 2..24, columns 2..28 of a 26x30 image: its top-left margin pixel
        // (row 0, column 0) sits at the first strip offset and must keep its original value.
        int firstStrip = stripOffset(original);
        assertEquals(original[firstStrip], dng.withMosaic(new short[dng.height * dng.width])[firstStrip]);
    }

    @Test
    public void damagedAndUnsupportedFilesGiveOneLineReasons() {
        byte[] good = Golden.bytes("grbg_strips_le.dng");
        expectError(Arrays.copyOf(good, 300), "photo.dng", "photo.dng ");
        expectError(new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}, "bundle.zip", "is not a TIFF/DNG file");
        expectError(new byte[4], "tiny.dng", "too short");
        expectError(withShortTag(good, 262, 34892), "prores.dng", "linear (already demosaiced) DNG");
        expectError(withShortTag(good, 259, 7), "ljpeg.dng", "is compressed");
        expectError(withShortTag(good, 50706, 0, true), "plain.tif", "no DNGVersion tag");
    }

    private static void expectError(byte[] bytes, String name, String fragment) {
        try {
            DngFile.parse(bytes, name);
            fail(name + " was accepted");
        } catch (DngFormatException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith(name + " "));
            assertTrue(e.getMessage(), e.getMessage().contains(fragment));
            assertEquals("one line", -1, e.getMessage().indexOf('\n'));
        }
    }

    private static byte[] withShortTag(byte[] file, int tag, int value) {
        return withShortTag(file, tag, value, false);
    }

    /** A copy of a little-endian TIFF with IFD0's {@code tag} set to a SHORT value (or renamed away). */
    private static byte[] withShortTag(byte[] file, int tag, int value, boolean renameAway) {
        byte[] out = file.clone();
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        int ifd = b.getInt(4);
        int n = b.getShort(ifd) & 0xFFFF;
        for (int e = 0; e < n; e++) {
            int at = ifd + 2 + 12 * e;
            if ((b.getShort(at) & 0xFFFF) == tag) {
                if (renameAway) {
                    b.putShort(at, (short) 65000);
                } else {
                    b.putShort(at + 2, (short) 3);
                    b.putInt(at + 4, 1);
                    b.putInt(at + 8, value);
                }
                return out;
            }
        }
        throw new AssertionError("tag " + tag + " not in IFD0");
    }

    private static int stripOffset(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int ifd = b.getInt(4);
        int n = b.getShort(ifd) & 0xFFFF;
        for (int e = 0; e < n; e++) {
            int at = ifd + 2 + 12 * e;
            if ((b.getShort(at) & 0xFFFF) == 273) {
                int type = b.getShort(at + 2);
                int count = b.getInt(at + 4);
                int valueAt = count * (type == 3 ? 2 : 4) <= 4 ? at + 8 : b.getInt(at + 8);
                return type == 3 ? b.getShort(valueAt) & 0xFFFF : b.getInt(valueAt);
            }
        }
        throw new AssertionError("no StripOffsets");
    }
}
