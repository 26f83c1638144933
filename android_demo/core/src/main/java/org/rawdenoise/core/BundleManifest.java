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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A bundle's {@code manifest.json} (schema "rawdenoise-bundle" v1), checked with the same rules as
 * {@code denoise/manifest.py}: schema and version, the types and ranges of every {@code io} field,
 * the selector (rule, K−1 ascending boundaries that separate the specialists' core ranges), every
 * specialist's files of known formats and listed, quality entries, the INT8 budget they must meet,
 * the ONNX Runtime version its ORT files were written for, and — in {@link #verifyFiles} — the size
 * and SHA-256 of every listed file. Nothing is used before it is checked; every refusal is one line
 * naming the bundle and what to do. The golden {@code manifests.json} cases pin that Python and this
 * class refuse the same manifests.
 */
public final class BundleManifest {

    public static final String SCHEMA = "rawdenoise-bundle";
    public static final int SCHEMA_VERSION = 1;
    public static final String MANIFEST = "manifest.json";
    /** Model input and output names of the bundle contract ({@code export/onnx.py}). */
    public static final String INPUT_NOISY = "noisy";
    public static final String INPUT_NOISE = "noise";
    public static final String OUTPUT_DENOISED = "denoised";
    /** Model formats a bundle may hold ({@code denoise.manifest.FORMATS}). */
    public static final List<String> FORMATS =
            List.of("torch", "onnx", "int8", "fp16", "ort", "int8_ort", "coreml", "pte");
    /** ONNX Runtime session optimization levels ({@code export.ort.optimization_level}). */
    public static final List<String> ORT_OPTIMIZATION_LEVELS = List.of("disable", "basic", "extended", "all");
    private static final List<String> ORT_FORMATS = List.of("ort", "int8_ort");
    private static final List<String> INT8_FORMATS = List.of("int8", "int8_ort");
    private static final List<String> IO_TEXT_FIELDS = List.of("normalization", "noise_model", "cfa", "padding");
    private static final Pattern VERSION = Pattern.compile("(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

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
    /** The ONNX Runtime version the bundle's ORT-format files were written for; null when it has none. */
    public final String ortRuntimeVersion;
    /** The session optimization level to load the ORT-format files with ("all" …); null when it has none. */
    public final String ortOptimizationLevel;
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
        if (m.containsKey("sdk_version") && !(m.get("sdk_version") instanceof String)) {
            throw fail("sdk_version must be a string");
        }
        sdkVersion = m.containsKey("sdk_version") ? (String) m.get("sdk_version") : "";

        Object ioValue = m.get("io");
        if (!(ioValue instanceof Map) || !(Json.asObject(ioValue, "io").get("stride") instanceof Long)
                || (Long) Json.asObject(ioValue, "io").get("stride") < 1) {
            throw fail("has no valid io.stride");
        }
        Map<String, Object> io = Json.asObject(ioValue, "io");
        if ((Long) io.get("stride") > Integer.MAX_VALUE) {
            throw fail("has no valid io.stride");
        }
        stride = (int) (long) (Long) io.get("stride");
        Object tileValue = io.get("tile");
        if (io.containsKey("tile") && !(tileValue instanceof Long && (Long) tileValue >= stride
                && (Long) tileValue <= Integer.MAX_VALUE && (Long) tileValue % stride == 0)) {
            throw fail("io.tile must be a positive integer multiple of the stride " + stride + ", got " + show(tileValue));
        }
        tile = io.containsKey("tile") ? (int) (long) (Long) tileValue : Tiling.DEFAULT_TILE;
        Object overlapValue = io.get("overlap");
        if (io.containsKey("overlap") && !(overlapValue instanceof Long && (Long) overlapValue >= 0
                && (Long) overlapValue <= Integer.MAX_VALUE && (Long) overlapValue % stride == 0 && (!io.containsKey("tile") || (Long) overlapValue < tile))) {
            throw fail("io.overlap must be a non-negative integer multiple of the stride " + stride
                    + " below the tile, got " + show(overlapValue));
        }
        overlap = io.containsKey("overlap") ? (int) (long) (Long) overlapValue : Tiling.DEFAULT_OVERLAP;
        if (io.containsKey("coreml_tiles") && !isTileList(io.get("coreml_tiles"), stride)) {
            throw fail("io.coreml_tiles must be a list of [height, width] multiples of the stride " + stride);
        }
        for (String key : IO_TEXT_FIELDS) {
            if (io.containsKey(key) && !(io.get(key) instanceof String)) {
                throw fail("io." + key + " must be a string");
            }
        }
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
        if (selection.containsKey("noise_level") && !(selection.get("noise_level") instanceof String)) {
            throw fail("selection.noise_level must be a string");
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
        Map<String, Map<String, Object>> qualities = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            Specialist s = readSpecialist(i, list.get(i), listed);
            qualities.put(s.name, readQuality(s, Json.asObject(list.get(i), "specialist").get("quality")));
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
        Map<String, Object> ort = readExport(m.get("export"), qualities);
        ortRuntimeVersion = ort == null ? null : (String) ort.get("runtime_version");
        ortOptimizationLevel = ort == null ? null : (String) ort.get("optimization_level");
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
            Map<?, ?> fields = (Map<?, ?>) item;
            if (fields.containsKey("dtype") && !"float32".equals(fields.get("dtype"))) {
                throw fail("io '" + name + "' has dtype " + show(fields.get("dtype"))
                        + "; the app feeds and reads float32");
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
            if (!FORMATS.contains(f.getKey())) {
                throw fail("specialist '" + name + "' has a file of unknown format '" + f.getKey() + "' (formats: "
                        + String.join(", ", FORMATS) + ")");
            }
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
                    || !SHA256.matcher((String) ((Map<?, ?>) info).get("sha256")).matches()
                    || !(((Map<?, ?>) info).get("bytes") instanceof Long) || (Long) ((Map<?, ?>) info).get("bytes") < 0) {
                throw new BundleFormatException(source + ": " + MANIFEST + " entry for '" + rel
                        + "' needs 'sha256' (64 lowercase hex digits) and 'bytes' (a non-negative integer); "
                        + "re-export the bundle");
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

    private static boolean isTileList(Object value, int stride) {
        if (!(value instanceof List) || ((List<?>) value).isEmpty()) {
            return false;
        }
        for (Object t : (List<?>) value) {
            if (!(t instanceof List) || ((List<?>) t).size() != 2) {
                return false;
            }
            for (Object v : (List<?>) t) {
                if (!(v instanceof Long) || (Long) v <= 0 || (Long) v > Integer.MAX_VALUE || (Long) v % stride != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean isFiniteNumber(Object v) {
        return v instanceof Long || (v instanceof Double && Double.isFinite((Double) v));
    }

    /** A specialist's {@code quality}: per format it has, psnr_db (number or null), max_abs (>= 0), psnr_drop_db. */
    private Map<String, Object> readQuality(Specialist s, Object value) {
        if (value == null) {
            return Collections.emptyMap();
        }
        if (!(value instanceof Map)) {
            throw fail("specialist '" + s.name + "' quality must be an object of formats");
        }
        Map<String, Object> quality = Json.asObject(value, "quality");
        for (Map.Entry<String, Object> e : quality.entrySet()) {
            if (!s.files.containsKey(e.getKey())) {
                throw fail("specialist '" + s.name + "' has quality for '" + e.getKey()
                        + "', a format it has no file for");
            }
            Object q = e.getValue();
            Map<?, ?> fields = q instanceof Map ? (Map<?, ?>) q : null;
            if (fields == null || !(fields.get("psnr_db") == null || isFiniteNumber(fields.get("psnr_db")))
                    || !isFiniteNumber(fields.get("max_abs")) || Json.asDouble(fields.get("max_abs"), "max_abs") < 0
                    || !isFiniteNumber(fields.get("psnr_drop_db"))) {
                throw fail("specialist '" + s.name + "' quality of '" + e.getKey() + "' needs psnr_db (a number or "
                        + "null), max_abs (>= 0) and psnr_drop_db (numbers)");
            }
        }
        return quality;
    }

    /**
     * The {@code export} block: known formats, the INT8 budget every INT8 quality entry is within, and
     * — required when a specialist has an ORT-format file — the runtime version and optimization level
     * those files were written for. Returns the {@code ort} block, or null.
     */
    private Map<String, Object> readExport(Object value, Map<String, Map<String, Object>> qualities) {
        if (value != null && !(value instanceof Map)) {
            throw fail("export must be an object");
        }
        Map<String, Object> export = value == null ? Collections.emptyMap() : Json.asObject(value, "export");
        if (export.containsKey("formats")) {
            boolean ok = export.get("formats") instanceof List;
            for (Object f : ok ? (List<?>) export.get("formats") : List.of()) {
                ok &= f instanceof String && FORMATS.contains(f);
            }
            if (!ok) {
                throw fail("export.formats must be a list of formats from " + String.join(", ", FORMATS));
            }
        }
        Object int8 = export.containsKey("int8") ? export.get("int8") : Collections.emptyMap();
        if (!(int8 instanceof Map)) {
            throw fail("export.int8 must be an object");
        }
        Object budget = ((Map<?, ?>) int8).get("max_drop_db");
        if (budget != null && !(isFiniteNumber(budget) && Json.asDouble(budget, "max_drop_db") >= 0)) {
            throw fail("export.int8.max_drop_db must be a PSNR budget in dB >= 0 or null, got " + show(budget));
        }
        if (budget != null) {
            double limit = Json.asDouble(budget, "max_drop_db");
            for (Map.Entry<String, Map<String, Object>> q : qualities.entrySet()) {
                for (String format : INT8_FORMATS) {
                    Object entry = q.getValue().get(format);
                    double drop = entry == null ? 0 : Json.asDouble(((Map<?, ?>) entry).get("psnr_drop_db"), "drop");
                    if (drop > limit) {
                        throw fail("says specialist '" + q.getKey() + "' " + format + " loses " + drop
                                + " dB, over its INT8 budget of " + limit + " dB");
                    }
                }
            }
        }
        Object ort = export.get("ort");
        if (ort == null) {
            for (Specialist s : specialists) {
                if (s.firstFormat(ORT_FORMATS.toArray(new String[0])) != null) {
                    throw new BundleFormatException(source + ": " + MANIFEST + " does not say which ONNX Runtime "
                            + "version the ORT files of '" + s.name + "' were written for (export.ort.runtime_version); "
                            + "re-export the bundle");
                }
            }
            return null;
        }
        Object version = ort instanceof Map ? ((Map<?, ?>) ort).get("runtime_version") : ort;
        if (!(version instanceof String) || parseVersion((String) version) == null) {
            throw fail("export.ort.runtime_version must be a version like '1.20.0', got " + show(version));
        }
        Object level = ((Map<?, ?>) ort).get("optimization_level");
        if (!(level instanceof String) || !ORT_OPTIMIZATION_LEVELS.contains(level)) {
            throw fail("export.ort.optimization_level must be one of " + String.join(", ", ORT_OPTIMIZATION_LEVELS)
                    + ", got " + show(level));
        }
        return Json.asObject(ort, "export.ort");
    }

    /** "1.20.0" → {1, 20, 0}; null for anything but three plain dot-separated numbers. */
    static int[] parseVersion(String text) {
        Matcher m = VERSION.matcher(text);
        if (!m.matches()) {
            return null;
        }
        return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
    }

    /**
     * Whether ONNX Runtime {@code runtime} loads ORT-format files written by {@code madeFor}: the same
     * major version and not older ({@code denoise.manifest.ort_runtime_compatible}).
     */
    public static boolean ortRuntimeCompatible(String madeFor, String runtime) {
        int[] made = parseVersion(madeFor);
        int[] have = parseVersion(runtime);
        return made != null && have != null && made[0] == have[0]
                && have[1] >= made[1];
    }

    /**
     * Refuse, before any session is made, ORT-format files that {@code runtime} (the app's ONNX Runtime)
     * cannot load; a bundle without ORT files passes.
     */
    public void requireOrtRuntime(String runtime) {
        if (ortRuntimeVersion != null && !ortRuntimeCompatible(ortRuntimeVersion, runtime)) {
            throw new BundleFormatException(source + ": its ORT files were written for ONNX Runtime "
                    + ortRuntimeVersion + ", which this app's ONNX Runtime " + runtime + " cannot load; re-export "
                    + "the bundle with 'denoise export … --ort-runtime " + runtime + "'");
        }
    }

    private BundleFormatException fail(String what) {
        return new BundleFormatException(source + ": " + MANIFEST + " " + what + "; re-export the bundle");
    }

    /** A value as the messages show it; control characters escaped so every message stays one line. */
    private static String show(Object value) {
        if (!(value instanceof String)) {
            return String.valueOf(value);
        }
        StringBuilder out = new StringBuilder("'");
        for (char c : ((String) value).toCharArray()) {
            if (c == '\\') {
                out.append("\\\\");
            } else if (c < 0x20 || c == 0x7f) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('\'').toString();
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
