package org.rawdenoise.core;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** One model of a bundle: its name, the noise range it serves and its files by format. */
public final class Specialist {

    public final int index;
    public final String name;
    /** Shot-term range it was trained on, and the part of it the selector gives it. */
    public final double[] aRange;
    public final double[] coreRange;
    /** Format ("onnx", "int8", "ort", "int8_ort", …) → path relative to the bundle folder. */
    public final Map<String, String> files;

    Specialist(int index, String name, double[] aRange, double[] coreRange, Map<String, String> files) {
        this.index = index;
        this.name = name;
        this.aRange = aRange.clone();
        this.coreRange = coreRange.clone();
        this.files = Collections.unmodifiableMap(new LinkedHashMap<>(files));
    }

    /** The first of {@code preferred} formats this specialist has, or null when it has none of them. */
    public String firstFormat(String... preferred) {
        for (String format : preferred) {
            if (files.containsKey(format)) {
                return format;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return name + " (a " + aRange[0] + ".." + aRange[1] + ")";
    }
}
