package org.rawdenoise.core;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.InputStream;
import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * Manifests are accepted or refused exactly when {@code denoise.bundle.load_bundle} accepts or
 * refuses them, and the accepted bundle picks the same specialist as Python.
 */
public class BundleManifestGoldenTest {

    /** The golden stand-in bundle folder in the test resources. */
    static final BundleManifest.FileSource BUNDLE = rel -> {
        InputStream in = BundleManifestGoldenTest.class.getResourceAsStream("/golden/bundle/" + rel);
        if (in == null) {
            throw new FileNotFoundException(rel);
        }
        return in;
    };

    private final Map<String, Object> golden = Golden.load("manifests.json");

    @Test
    public void acceptsAndRefusesTheSameManifestsAsPython() throws Exception {
        int refused = 0;
        for (Map<String, Object> c : Golden.cases(golden, "cases")) {
            String name = Json.asString(c.get("name"), "name");
            String text = Json.asString(c.get("manifest_text"), "manifest_text");
            boolean valid = Json.asBoolean(c.get("valid"), "valid");
            try {
                BundleManifest m = BundleManifest.parse(text, "golden-bundle");
                m.verifyFiles(BUNDLE);
                assertTrue(name + " was accepted but Python refuses it", valid);
            } catch (BundleFormatException e) {
                assertFalse(name + " was refused but Python accepts it: " + e.getMessage(), valid);
                assertTrue(name + ": " + e.getMessage(), e.getMessage().startsWith("golden-bundle: "));
                assertEquals(name + " one line", -1, e.getMessage().indexOf('\n'));
                refused++;
            }
        }
        assertTrue("the golden file refuses nothing", refused > 20);
    }

    @Test
    public void theValidBundleLoadsAndSelectsLikePython() throws Exception {
        BundleManifest m = BundleManifest.load(BUNDLE, "golden-bundle");
        assertEquals(8, m.stride);
        assertEquals(256, m.tile);
        assertEquals(32, m.overlap);
        assertArrayEquals(new double[] {0.0005, 0.002}, m.boundaries(), 0.0);
        assertEquals(3, m.specialists.size());
        assertEquals("int8", m.specialists.get(0).firstFormat("int8_ort", "int8", "onnx"));
        assertEquals("onnx", m.specialists.get(1).firstFormat("int8_ort", "int8", "onnx"));
        for (Map<String, Object> c : Golden.cases(golden, "selections")) {
            NoiseProfile p = new NoiseProfile(Golden.doubles(c, "a"), Golden.doubles(c, "b"), "metadata");
            assertEquals("level " + p.level(), c.get("specialist"), m.select(p).name);
        }
    }

    @Test
    public void aTamperedFileIsCaughtWhenTheBundleIsLoaded() throws Exception {
        BundleManifest.FileSource tampered = rel -> {
            byte[] data = BundleManifest.readAll(BUNDLE.open(rel));
            if (rel.equals("models/mid.onnx")) {
                data[3] ^= 1;
            }
            return new ByteArrayInputStream(data);
        };
        try {
            BundleManifest.load(tampered, "assets/bundle");
            fail("a modified model file passed verification");
        } catch (BundleFormatException e) {
            assertEquals("assets/bundle: file 'models/mid.onnx' fails its SHA-256 check (modified or corrupted); "
                    + "re-copy or re-export the bundle", e.getMessage());
        }
    }

    @Test
    public void aFolderWithoutManifestSaysHowToMakeOne() throws Exception {
        try {
            BundleManifest.load(rel -> {
                throw new FileNotFoundException(rel);
            }, "assets/bundle");
            fail("loaded a bundle without manifest");
        } catch (BundleFormatException e) {
            assertNotNull(e.getMessage());
            assertTrue(e.getMessage(), e.getMessage().startsWith("assets/bundle: no manifest.json"));
            assertTrue(e.getMessage(), e.getMessage().contains("denoise export"));
        }
    }

    @Test
    public void modelsWhoseInputsTheAppCannotFeedAreRefused() {
        String valid = Json.asString(Golden.cases(golden, "cases").get(0).get("manifest_text"), "manifest_text");
        assertTrue(valid.contains("\"name\": \"noise\""));
        String[][] edits = {{"\"name\": \"noise\"", "\"name\": \"sigma\""},
                            {"\"name\": \"denoised\"", "\"name\": \"output_0\""}};
        for (String[] edit : edits) {
            try {
                BundleManifest.parse(valid.replace(edit[0], edit[1]), "assets/bundle");
                fail("accepted models renamed " + edit[1]);
            } catch (BundleFormatException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("assets/bundle: bundle models "));
                assertTrue(e.getMessage(), e.getMessage().endsWith("re-export the bundle with this SDK"));
            }
        }
    }

    @Test
    public void ortRuntimeCompatibilityFollowsThePythonRule() {
        for (Map<String, Object> c : Golden.cases(golden, "ort_runtimes")) {
            String madeFor = Json.asString(c.get("made_for"), "made_for");
            String runtime = Json.asString(c.get("runtime"), "runtime");
            assertEquals(madeFor + " in " + runtime, Json.asBoolean(c.get("compatible"), "compatible"),
                    BundleManifest.ortRuntimeCompatible(madeFor, runtime));
        }
    }

    @Test
    public void ortFilesForANewerRuntimeAreRefusedBeforeAnySession() {
        String text = null;
        for (Map<String, Object> c : Golden.cases(golden, "cases")) {
            if (Json.asString(c.get("name"), "name").equals("valid ORT file with its runtime")) {
                text = Json.asString(c.get("manifest_text"), "manifest_text");
            }
        }
        assertNotNull("golden case 'valid ORT file with its runtime' is missing", text);
        BundleManifest m = BundleManifest.parse(text, "assets/bundle");
        assertEquals("1.20.0", m.ortRuntimeVersion);
        assertEquals("all", m.ortOptimizationLevel);
        m.requireOrtRuntime("1.20.0");
        m.requireOrtRuntime("1.21.1");
        try {
            m.requireOrtRuntime("1.19.2");
            fail("an app on ONNX Runtime 1.19.2 accepted ORT files written by 1.20.0");
        } catch (BundleFormatException e) {
            assertEquals("assets/bundle: its ORT files were written for ONNX Runtime 1.20.0, which this app's ONNX "
                    + "Runtime 1.19.2 cannot load; re-export the bundle with 'denoise export … --ort-runtime 1.19.2'",
                    e.getMessage());
        }
        BundleManifest withoutOrt = BundleManifest.parse(
                Json.asString(Golden.cases(golden, "cases").get(0).get("manifest_text"), "manifest_text"), "b");
        assertEquals(null, withoutOrt.ortRuntimeVersion);
        withoutOrt.requireOrtRuntime("1.0.0");
    }

    @Test
    public void safePathsFollowThePythonRule() {
        for (Map<String, Object> c : Golden.cases(golden, "paths")) {
            String path = Json.asString(c.get("path"), "path");
            assertEquals("'" + path + "'", Json.asBoolean(c.get("safe"), "safe"), BundleManifest.isSafeRelativePath(path));
        }
    }
}
