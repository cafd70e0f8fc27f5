import { useEffect, useRef, useState } from 'react';

const INPUT_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;

/**
 * When the person last touched this page (keys, pointer, wheel, touch), including input aimed at the
 * remote desktop: listeners in the capture phase see it before the stream does. `active` false: idle
 * time is not counted. Returns the time of the last input and a reset (e.g. after sign-in).
 */
export function useLastInput(active: boolean): { lastInputAt: number; reset(): void } {
  const [lastInputAt, setLastInputAt] = useState(() => Date.now());
  const latest = useRef(lastInputAt);
  useEffect(() => {
    if (!active) return;
    // Pointer moves come in floods: note at most one a second.
    const onInput = () => {
      const now = Date.now();
      if (now - latest.current < 1000) return;
      latest.current = now;
      setLastInputAt(now);
    };
    for (const name of INPUT_EVENTS) window.addEventListener(name, onInput, { capture: true, passive: true });
    return () => {
      for (const name of INPUT_EVENTS) window.removeEventListener(name, onInput, { capture: true });
    };
  }, [active]);
  return {
    lastInputAt,
    reset: () => {
      latest.current = Date.now();
      setLastInputAt(latest.current);
    },
  };
}
