/* Empty on purpose: tapi.h includes it; windows.h here declares what tapi.h needs. */
