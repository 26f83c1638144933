package org.rawdenoise.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A bundle's {@code manifest.json} (schema "rawdenoise-bundle" v1), checked with the same rules as
 * {@code denoise/bundle.py}: schema and version, the selector (rule, K−1 ascending boundaries that
 * separate the specialists' core ranges), every specialist's files listed, and — in
 * {@link #verifyFiles} — the size and SHA-256 of every listed file. Nothing is used before it is
 * checked; every refusal is one line naming the bundle and what to do.
 */
public final class BundleManifest {

    public static final String SCHEMA = "rawdenoise-bundle";
    public static final int SCHEMA_VERSION = 1;
    public static final String MANIFEST = "manifest.json";
    /** Model input and output names of the bundle contract ({@code export/onnx.py}). */
    public static final String INPUT_NOISY = "noisy";
    public static final String INPUT_NOISE = "noise";
    public static final String OUTPUT_DENOISED = "denoised";

    /** Opens a file of the bundle by its path relative to the bundle folder (e.g. from app assets). */
    public interface FileSource {
        InputStream open(String relativePath) throws IOException;
    }

    /** Size and digest of one listed file. */
    public static final class FileEntry {
        public final String sha256;
        public final long bytes;

        FileEntry(String sha256, long bytes) {
            this.sha256 = sha256;
            this.bytes = bytes;
        }
    }

    private final String source;
    public final int stride;
    /** Tile and overlap (packed-plane pixels) the exporter recommends; the runtime defaults otherwise. */
    public final int tile;
    public final int overlap;
    public final String sdkVersion;
    private final double[] boundaries;
    public final List<Specialist> specialists;
    public final Map<String, FileEntry> files;

    private BundleManifest(Map<String, Object> m, String source) {
        this.source = source;
        if (!SCHEMA.equals(m.get("schema"))) {
            throw new BundleFormatException(source + ": " + MANIFEST + " schema is " + show(m.get("schema"))
                    + ", not '" + SCHEMA + "'; not a rawdenoise bundle");
        }
        if (!isInteger(m.get("schema_version"), SCHEMA_VERSION)) {
            throw new BundleFormatException(source + ": bundle schema version " + show(m.get("schema_version"))
                    + " is not supported (this app reads version " + SCHEMA_VERSION + "); update the app or re-export the bundle");
        }
        sdkVersion = m.get("sdk_version") instanceof String ? (String) m.get("sdk_version") : "";

        Object ioValue = m.get("io");
        if (!(ioValue instanceof Map) || !(Json.asObject(ioValue, "io").get("stride") instanceof Long)
                || (Long) Json.asObject(ioValue, "io").get("stride") < 1) {
            throw fail("has no valid io.stride");
        }
        Map<String, Object> io = Json.asObject(ioValue, "io");
        stride = (int) (long) (Long) io.get("stride");
        tile = optionalInt(io, "tile", Tiling.DEFAULT_TILE);
        overlap = optionalInt(io, "overlap", Tiling.DEFAULT_OVERLAP);
        checkNames(io);

        Object selectionValue = m.get("selection");
        if (!(selectionValue instanceof Map)) {
            throw fail("has no 'selection'");
        }
        Map<String, Object> selection = Json.asObject(selectionValue, "selection");
        if (!SpecialistSelector.RULE.equals(selection.get("rule"))
                || !isInteger(selection.get("rule_version"), SpecialistSelector.RULE_VERSION)) {
            throw new BundleFormatException(source + ": selection rule " + show(selection.get("rule")) + " version "
                    + show(selection.get("rule_version")) + " is not supported (this app implements '"
                    + SpecialistSelector.RULE + "' version " + SpecialistSelector.RULE_VERSION + "); update the app");
        }
        boundaries = readBoundaries(selection.get("boundaries"));

        Object entries = m.get("specialists");
        if (!(entries instanceof List) || ((List<?>) entries).isEmpty()) {
            throw fail("lists no specialists");
        }
        List<Object> list = Json.asArray(entries, "specialists");
        if (boundaries.length != list.size() - 1) {
            throw fail("has " + list.size() + " specialists but " + boundaries.length + " boundaries (needs "
                    + (list.size() - 1) + ")");
        }
        Object listedValue = m.get("files");
        if (!(listedValue instanceof Map) || ((Map<?, ?>) listedValue).isEmpty()) {
            throw fail("has no 'files' listing");
        }
        Map<String, Object> listed = Json.asObject(listedValue, "files");
        List<Specialist> specs = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            Specialist s = readSpecialist(i, list.get(i), listed);
            if (!names.add(s.name)) {
                throw fail("has duplicate specialist names");
            }
            specs.add(s);
        }
        for (int i = 0; i < boundaries.length; i++) {
            double b = boundaries[i];
            if (!isClose(specs.get(i).coreRange[1], b) || !isClose(specs.get(i + 1).coreRange[0], b)) {
                throw fail("boundary " + b + " does not separate the core ranges of '" + specs.get(i).name + "' and '"
                        + specs.get(i + 1).name + "'");
            }
        }
        specialists = Collections.unmodifiableList(specs);
        files = Collections.unmodifiableMap(readFileEntries(listed));
    }

    /** Parse and check a manifest's text; {@code source} names the bundle in errors. */
    public static BundleManifest parse(String json, String source) {
        Object value;
        try {
            value = Json.parse(json, MANIFEST);
        } catch (JsonException e) {
            throw new BundleFormatException(source + ": " + e.getMessage() + "; re-export the bundle");
        }
        if (!(value instanceof Map)) {
            throw new BundleFormatException(source + ": " + MANIFEST + " must hold a JSON object");
        }
        return new BundleManifest(Json.asObject(value, MANIFEST), source);
    }

    /** Read {@code manifest.json} from {@code files}, check it, and verify every listed file. */
    public static BundleManifest load(FileSource files, String source) throws IOException {
        String text;
        try (InputStream in = files.open(MANIFEST)) {
            text = new String(readAll(in), StandardCharsets.UTF_8);
        } catch (java.io.FileNotFoundException e) {
            throw new BundleFormatException(source + ": no " + MANIFEST + "; not a rawdenoise bundle (copy one with "
                    + "'denoise export … -o app/src/main/assets/bundle')");
        }
        BundleManifest manifest = parse(text, source);
        manifest.verifyFiles(files);
        return manifest;
    }

    /** Selector boundaries (K−1, strictly ascending). */
    public double[] boundaries() {
        return boundaries.clone();
    }

    /** The specialist the bundle's rule picks for {@code profile}. */
    public Specialist select(NoiseProfile profile) {
        return specialists.get(SpecialistSelector.selectIndex(profile.level(), boundaries));
    }

    /** Check the size and SHA-256 of every listed file; throws on the first that differs. */
    public void verifyFiles(FileSource source) throws IOException {
        for (Map.Entry<String, FileEntry> e : files.entrySet()) {
            String rel = e.getKey();
            MessageDigest digest = sha256();
            long size = 0;
            try (InputStream in = source.open(rel)) {
                byte[] buffer = new byte[1 << 16];
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                    digest.update(buffer, 0, n);
                    size += n;
                }
            } catch (java.io.FileNotFoundException missing) {
                throw new BundleFormatException(this.source + ": missing file '" + rel + "' listed in " + MANIFEST
                        + "; the bundle is incomplete, re-copy or re-export it");
            }
            if (size != e.getValue().bytes) {
                throw new BundleFormatException(this.source + ": file '" + rel + "' has " + size + " bytes but "
                        + MANIFEST + " says " + e.getValue().bytes + " (modified or truncated); re-copy or re-export the bundle");
            }
            if (!hex(digest.digest()).equals(e.getValue().sha256)) {
                throw new BundleFormatException(this.source + ": file '" + rel + "' fails its SHA-256 check "
                        + "(modified or corrupted); re-copy or re-export the bundle");
            }
        }
    }

    // ----------------------------------------------------------------- parts

    /**
     * The app feeds the models by name: when the manifest describes them ({@code io.inputs} and
     * {@code io.outputs}, lists of {@code {"name": …}}), they must be the contract's names.
     */
    private void checkNames(Map<String, Object> io) {
        Set<String> inputs = names(io.get("inputs"));
        if (inputs != null && !(inputs.contains(INPUT_NOISY) && inputs.contains(INPUT_NOISE))) {
            throw new BundleFormatException(source + ": bundle models take inputs " + inputs + ", but this app feeds '"
                    + INPUT_NOISY + "' and '" + INPUT_NOISE + "'; re-export the bundle with this SDK");
        }
        Set<String> outputs = names(io.get("outputs"));
        if (outputs != null && !outputs.contains(OUTPUT_DENOISED)) {
            throw new BundleFormatException(source + ": bundle models return " + outputs + ", but this app reads '"
                    + OUTPUT_DENOISED + "'; re-export the bundle with this SDK");
        }
    }

    private Set<String> names(Object described) {
        if (described == null) {
            return null;
        }
        if (!(described instanceof List)) {
            throw fail("io inputs/outputs must be lists of {\"name\": …}");
        }
        Set<String> out = new LinkedHashSet<>();
        for (Object item : (List<?>) described) {
            Object name = item instanceof Map ? ((Map<?, ?>) item).get("name") : null;
            if (!(name instanceof String)) {
                throw fail("io inputs/outputs must be lists of {\"name\": …}");
            }
            out.add((String) name);
        }
        return out;
    }

    private double[] readBoundaries(Object value) {
        if (!(value instanceof List)) {
            throw fail("selection.boundaries must be a list of positive numbers");
        }
        List<?> list = (List<?>) value;
        double[] out = new double[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object b = list.get(i);
            if (!(b instanceof Long || b instanceof Double) || !(Json.asDouble(b, "boundary") > 0)
                    || !Double.isFinite(Json.asDouble(b, "boundary"))) {
                throw fail("selection.boundaries must be a list of positive numbers");
            }
            out[i] = Json.asDouble(b, "boundary");
            if (i > 0 && out[i - 1] >= out[i]) {
                throw fail("selection.boundaries " + list + " are not strictly ascending");
            }
        }
        return out;
    }

    private Specialist readSpecialist(int i, Object value, Map<String, Object> listed) {
        if (!(value instanceof Map) || !(Json.asObject(value, "specialist").get("name") instanceof String)
                || ((String) Json.asObject(value, "specialist").get("name")).isEmpty()) {
            throw fail("specialist #" + i + " has no name");
        }
        Map<String, Object> entry = Json.asObject(value, "specialist");
        String name = (String) entry.get("name");
        double[] aRange = pair(entry.get("a_range"));
        double[] coreRange = pair(entry.get("core_range"));
        if (aRange == null || coreRange == null) {
            throw fail("specialist '" + name + "' needs a_range and core_range as [low, high] with 0 < low <= high");
        }
        Object filesValue = entry.get("files");
        if (!(filesValue instanceof Map) || ((Map<?, ?>) filesValue).isEmpty()) {
            throw fail("specialist '" + name + "' lists no files");
        }
        Map<String, String> files = new LinkedHashMap<>();
        for (Map.Entry<String, Object> f : Json.asObject(filesValue, "files").entrySet()) {
            if (!(f.getValue() instanceof String) || !isListed((String) f.getValue(), listed)) {
                throw fail("specialist '" + name + "' format '" + f.getKey() + "' points to " + show(f.getValue())
                        + ", which is not in 'files'");
            }
            files.put(f.getKey(), (String) f.getValue());
        }
        return new Specialist(i, name, aRange, coreRange, files);
    }

    /** A listed file, or a folder (e.g. a Core ML package) some listed file lies in. */
    private static boolean isListed(String rel, Map<String, Object> listed) {
        if (listed.containsKey(rel)) {
            return true;
        }
        String prefix = stripTrailingSlashes(rel) + "/";
        for (String path : listed.keySet()) {
            if (path.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    private Map<String, FileEntry> readFileEntries(Map<String, Object> listed) {
        Map<String, FileEntry> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : listed.entrySet()) {
            String rel = e.getKey();
            if (!isSafeRelativePath(rel) || rel.equals(MANIFEST)) {
                throw new BundleFormatException(source + ": " + MANIFEST + " lists an unsafe file path '" + rel
                        + "'; refusing the bundle");
            }
            Object info = e.getValue();
            if (!(info instanceof Map) || !(((Map<?, ?>) info).get("sha256") instanceof String)
                    || !(((Map<?, ?>) info).get("bytes") instanceof Long)) {
                throw new BundleFormatException(source + ": " + MANIFEST + " entry for '" + rel
                        + "' needs 'sha256' and 'bytes'; re-export the bundle");
            }
            Map<?, ?> fields = (Map<?, ?>) info;
            out.put(rel, new FileEntry((String) fields.get("sha256"), (Long) fields.get("bytes")));
        }
        return out;
    }

    /**
     * A plain relative POSIX path that stays inside its folder: no leading '/', no backslash, no
     * NUL, no '..' component, no drive-like ':' in the first component ({@code safe_relative_path}).
     */
    public static boolean isSafeRelativePath(String name) {
        if (name.isEmpty() || name.indexOf('\\') >= 0 || name.startsWith("/") || name.indexOf('\0') >= 0) {
            return false;
        }
        List<String> parts = new ArrayList<>();
        for (String part : name.split("/")) {
            if (!part.isEmpty() && !part.equals(".")) {
                parts.add(part);
            }
        }
        return !parts.isEmpty() && !parts.contains("..") && !parts.get(0).contains(":");
    }

    private static double[] pair(Object value) {
        if (!(value instanceof List) || ((List<?>) value).size() != 2) {
            return null;
        }
        List<?> list = (List<?>) value;
        for (Object v : list) {
            if (!(v instanceof Long || v instanceof Double)) {
                return null;
            }
        }
        double lo = Json.asDouble(list.get(0), "low");
        double hi = Json.asDouble(list.get(1), "high");
        return Double.isFinite(lo) && Double.isFinite(hi) && 0 < lo && lo <= hi ? new double[] {lo, hi} : null;
    }

    /** Python's {@code math.isclose(a, b, rel_tol=1e-9)}. */
    private static boolean isClose(double a, double b) {
        return a == b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
    }

    private static boolean isInteger(Object value, long expected) {
        return (value instanceof Long && (Long) value == expected)
                || (value instanceof Double && (Double) value == expected);
    }

    private int optionalInt(Map<String, Object> io, String key, int fallback) {
        Object v = io.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Long) || (Long) v < 0 || (Long) v > Integer.MAX_VALUE) {
            throw fail("io." + key + " must be a non-negative integer, got " + show(v));
        }
        return (int) (long) (Long) v;
    }

    private BundleFormatException fail(String what) {
        return new BundleFormatException(source + ": " + MANIFEST + " " + what + "; re-export the bundle");
    }

    private static String show(Object value) {
        return value instanceof String ? "'" + value + "'" : String.valueOf(value);
    }

    private static String stripTrailingSlashes(String s) {
        int end = s.length();
        while (end > 0 && s.charAt(end - 1) == '/') {
            end--;
        }
        return s.substring(0, end);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            sb.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return sb.toString();
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[1 << 16];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }
}
