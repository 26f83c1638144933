package org.rawdenoise.core;

import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

/**
 * The specialist rule agrees with Python on, one float step either side of, and far from every
 * boundary (vectors by {@code denoise.bundle.write_selector_vectors}).
 */
public class SelectorGoldenTest {

    private static final String[] FILES = {"selector_1.json", "selector_3.json", "selector_4.json"};

    @Test
    public void ruleNameAndVersionMatchPython() {
        for (String file : FILES) {
            Map<String, Object> golden = Golden.load(file);
            assertEquals(SpecialistSelector.RULE, golden.get("rule"));
            assertEquals((long) SpecialistSelector.RULE_VERSION, golden.get("rule_version"));
        }
    }

    @Test
    public void profilesGiveBitIdenticalLevelsAndTheSameSpecialist() {
        for (String file : FILES) {
            Map<String, Object> golden = Golden.load(file);
            double[] boundaries = Golden.doubles(golden, "boundaries");
            for (Map<String, Object> c : Golden.cases(golden, "cases")) {
                String name = file + " " + c.get("name");
                NoiseProfile p = new NoiseProfile(Golden.doubles(c, "a"), Golden.doubles(c, "b"), "metadata");
                assertEquals(name + " level bits", Double.doubleToLongBits(Golden.number(c, "level")),
                        Double.doubleToLongBits(p.level()));
                assertEquals(name + " index", Golden.integer(c, "index"),
                        SpecialistSelector.selectIndex(p.level(), boundaries));
            }
        }
    }

    @Test
    public void aLevelExactlyOnABoundaryGoesToTheNoisierSpecialist() {
        double[] boundaries = {1e-4, 3.3e-4, 1.1e-3};
        for (int i = 0; i < boundaries.length; i++) {
            double b = boundaries[i];
            assertEquals(i + 1, SpecialistSelector.selectIndex(b, boundaries));
            assertEquals(i, SpecialistSelector.selectIndex(Math.nextDown(b), boundaries));
            assertEquals(i + 1, SpecialistSelector.selectIndex(Math.nextUp(b), boundaries));
        }
        assertEquals(0, SpecialistSelector.selectIndex(5.0, new double[0]));
    }

    @Test
    public void boundariesMustBeStrictlyAscending() {
        for (double[] bad : new double[][] {{2e-3, 1e-3}, {1e-3, 1e-3}, {Double.NaN}}) {
            try {
                SpecialistSelector.selectIndex(1e-3, bad);
                fail("accepted boundaries " + java.util.Arrays.toString(bad));
            } catch (IllegalArgumentException expected) {
                // the message names the boundaries
            }
        }
    }
}
